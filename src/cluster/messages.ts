import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/**
 * What the primary and its workers say to each other over node:cluster's IPC channel
 * (docs/decisions/0005-process-model.md). Every message carries `laurel`.
 */

/** A worker's metrics as prom-client's `getMetricsAsJSON` gives them, for the primary to sum. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Worker → primary. */
export type WorkerMessage =
  | { laurel: 'listening'; url: string }
  | { laurel: 'failed'; line: string }
  /** A scrape reached this worker: it asks for every worker's figures, summed. */
  | { laurel: 'metrics'; id: number }
  /** This worker's own figures, asked for by `figures`. */
  | { laurel: 'figures'; id: number; metrics: MetricsJson };

/** Primary → worker. */
export type PrimaryMessage =
  | { laurel: 'sweep' }
  | { laurel: 'stop' }
  | { laurel: 'figures'; id: number }
  | { laurel: 'metrics'; id: number; text: string };

/** Environment of a worker: its slot, 1..N, which a replacement keeps (the metrics' `worker` label). */
export const WORKER_SLOT_ENV = 'LAUREL_WORKER_SLOT';

export function isLaurelMessage<T extends { laurel: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { laurel?: unknown }).laurel === 'string';
}
