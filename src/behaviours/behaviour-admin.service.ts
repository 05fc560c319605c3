import type { Database } from '../db/database.js';
import { behavioursOf } from '../domain/behaviours.js';
import { sameJson } from '../domain/canonical.js';
import { isUuid, newId } from '../domain/ids.js';
import type { Behaviour, ProgramDocument } from '../domain/program.js';
import { LaurelError, validationError } from '../errors.js';
import type { ProgramVersionRow } from '../program/program.repository.js';
import type { BehaviourInput, ProgramInput } from '../program/program.schema.js';
import { getProgramVersionAt, reviseProgram } from '../program/program.service.js';

/**
 * Behaviours managed one at a time (issue #14 item 8), as campaigns are (src/campaigns): they live
 * in the program document, so every change is a new program version in force from now, validated
 * like `PUT /admin/v1/program`; an event is processed with the version in force when it arrives.
 */

export interface BehaviourAnswer {
  program_version: number;
  behaviour: Behaviour;
}

const notFound = (id: string) => new LaurelError('not_found', `No behaviour ${id} in the program`);

function indexOf(program: ProgramDocument, behaviourId: string): number {
  const id = behaviourId.toLowerCase();
  const i = isUuid(id) ? behavioursOf(program).findIndex((b) => b.id === id) : -1;
  if (i < 0) throw notFound(behaviourId);
  return i;
}

/** The program as input with its behaviours replaced. */
const withBehaviours = (program: ProgramDocument, behaviours: BehaviourInput[]): ProgramInput => ({
  ...program,
  behaviours,
});

/**
 * Runs an edit of one behaviour as a new program version; validation errors about it name the
 * request's field (`behaviour.…`) rather than its place in the program document.
 */
async function reviseBehaviour(
  db: Database,
  retailerId: string,
  now: Date,
  edit: (program: ProgramDocument) => { index: number; input: ProgramInput | null },
): Promise<{ row: ProgramVersionRow; index: number }> {
  let index = -1;
  try {
    const { row } = await reviseProgram(db, retailerId, now, (program) => {
      const e = edit(program);
      index = e.index;
      return e.input;
    });
    return { row, index };
  } catch (err) {
    const prefix = `behaviours[${index}]`;
    if (err instanceof LaurelError && err.code === 'validation') {
      const field = err.details?.field;
      if (typeof field === 'string' && field.startsWith(prefix)) {
        throw validationError(err.message, `behaviour${field.slice(prefix.length)}`);
      }
    }
    throw err;
  }
}

const answer = (row: ProgramVersionRow, index: number): BehaviourAnswer => ({
  program_version: row.version,
  behaviour: behavioursOf(row.document)[index]!,
});

export async function listBehaviours(db: Database, retailerId: string, now: Date) {
  const row = await getProgramVersionAt(db, retailerId, now);
  return { program_version: row.version, behaviours: behavioursOf(row.document) };
}

export async function getBehaviour(
  db: Database,
  retailerId: string,
  behaviourId: string,
  now: Date,
): Promise<BehaviourAnswer> {
  const row = await getProgramVersionAt(db, retailerId, now);
  return answer(row, indexOf(row.document, behaviourId));
}

/** Adds a behaviour with a new id (unless the body gives one): its limits start counting afresh. */
export async function createBehaviour(
  db: Database,
  retailerId: string,
  input: BehaviourInput,
  now: Date,
): Promise<BehaviourAnswer> {
  const { row, index } = await reviseBehaviour(db, retailerId, now, (program) => {
    const current = behavioursOf(program);
    const id = (input.id ?? newId(now.getTime())).toLowerCase();
    if (current.some((b) => b.id === id)) {
      throw validationError(`a behaviour with id ${id} already exists`, 'behaviour.id');
    }
    return { index: current.length, input: withBehaviours(program, [...current, { ...input, id }]) };
  });
  return answer(row, index);
}

/** Changes a behaviour (the body is the whole behaviour; its id stays); an equal body writes nothing. */
export async function updateBehaviour(
  db: Database,
  retailerId: string,
  behaviourId: string,
  input: BehaviourInput,
  now: Date,
): Promise<BehaviourAnswer> {
  const { row, index } = await reviseBehaviour(db, retailerId, now, (program) => {
    const index = indexOf(program, behaviourId);
    const current = behavioursOf(program);
    const id = current[index]!.id;
    if (input.id !== undefined && input.id.toLowerCase() !== id) {
      throw validationError(`behaviour.id must be the id in the path, ${id}`, 'behaviour.id');
    }
    const changed = { ...input, id };
    const behaviours = current.map((b, i) => (i === index ? changed : b));
    const next = withBehaviours(program, behaviours);
    return { index, input: sameJson(changed, current[index]) ? null : next };
  });
  return answer(row, index);
}

/**
 * Removes a behaviour from now (a new program version): its event then saves with no outcome from
 * it. Earlier versions keep it, as they keep every event's answer.
 */
export async function deleteBehaviour(
  db: Database,
  retailerId: string,
  behaviourId: string,
  now: Date,
): Promise<{ program_version: number; behaviour: Behaviour }> {
  let removed: Behaviour | undefined;
  const { row } = await reviseProgram(db, retailerId, now, (program) => {
    const index = indexOf(program, behaviourId);
    const current = behavioursOf(program);
    removed = current[index];
    return withBehaviours(
      program,
      current.filter((_, i) => i !== index),
    );
  });
  return { program_version: row.version, behaviour: removed! };
}
