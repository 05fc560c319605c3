import { Type } from '@sinclair/typebox';
import { OkStatus } from '../http/envelope.js';

/** Wire shapes of gift cards and cash-out reports (issue #5, DESIGN §7). */

const giftCardFields = (issuedAt: string) => ({
  id: Type.String({ description: 'The gift card id; the same before and after the cash-out is written.' }),
  code: Type.String({
    description:
      'The redemption code (four groups of four characters). Whole on the Core API; masked but for its last group on the admin API.',
  }),
  value: Type.Number({ description: 'Value in currency units, a multiple of the program denomination.' }),
  currency: Type.String({ description: "The program's currency at the cash-out, e.g. USD." }),
  period: Type.String({ description: 'The cash-out period, `YYYY-Qn`.' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('redeemed'), Type.Literal('void')], {
    description: 'active, redeemed or void; Laurel issues every card active and nothing changes it yet.',
  }),
  points: Type.Number({
    description:
      'Spendable points converted into the card (up to two decimals on an account of precision 2).',
  }),
  points_left: Type.Number({ description: 'Spendable points the member kept at the cash-out.' }),
  issued_at: Type.String({ description: issuedAt }),
});

export const CoreGiftCard = Type.Object(
  giftCardFields(
    'The cash-out instant, `YYYY-MM-DD HH:MM:SS` UTC (the end of the period in the program zone).',
  ),
);
export const AdminGiftCard = Type.Object(giftCardFields('The cash-out instant, ISO-8601.'));

const giftCardList =
  'The member’s gift cards, newest first; a period that has ended shows its card even before the sweeper writes it.';
export const CoreGiftCardsResponse = Type.Object({
  status: OkStatus,
  gift_cards: Type.Array(CoreGiftCard, { description: giftCardList }),
});
export const AdminGiftCardsResponse = Type.Object({
  status: OkStatus,
  gift_cards: Type.Array(AdminGiftCard, { description: giftCardList }),
});

export const CashOutReport = Type.Object(
  {
    period: Type.String({ description: '`YYYY-Qn`' }),
    period_end: Type.String({ description: 'The cash-out instant, ISO-8601.' }),
    currency: Type.String({
      description: "The gift cards' currency (the program's when there are none), e.g. USD.",
    }),
    members: Type.Integer({ description: 'Members who received a gift card for the period.' }),
    points_converted: Type.Number({ description: 'Spendable points converted into those gift cards.' }),
    gift_card_value: Type.Number({
      description: 'Total value of the period’s gift cards, in currency units.',
    }),
    points_left: Type.Number({ description: 'Spendable points those members kept.' }),
    run: Type.Union(
      [
        Type.Object({
          started_at: Type.String({ description: 'When the run started (ISO-8601, UTC).' }),
          completed_at: Type.Union([Type.String(), Type.Null()], {
            description: 'When it had visited every member (ISO-8601, UTC); null until then.',
          }),
          members_visited: Type.Integer({
            description: 'Members the run has visited so far: those who might have had points to convert.',
          }),
          failures: Type.Integer({
            description:
              'Member settlements that failed during the run; a run with failures stays incomplete and ' +
              'the next sweep tries those members again.',
          }),
          last_error: Type.Union([Type.String(), Type.Null()], {
            description: 'Why the last failing member could not be settled; null when none failed.',
          }),
        }),
        Type.Null(),
      ],
      {
        description:
          'The cash-out run over every member; null when none has started (reads still show each member’s cash-out).',
      },
    ),
  },
  { description: 'The cash-out of one period.' },
);

export const CashOutReportResponse = Type.Object({ status: OkStatus, cash_out: CashOutReport });
export const CashOutReportsResponse = Type.Object({
  status: OkStatus,
  cash_outs: Type.Array(CashOutReport, {
    description: 'One report per period with a run or a gift card, newest first.',
  }),
});
export const CashOutRunResponse = Type.Object({
  status: OkStatus,
  runs: Type.Array(
    Type.Object({
      period: Type.String({ description: 'The period, `YYYY-Qn`: the last one that has ended.' }),
      members: Type.Integer({ description: 'Members this call visited.' }),
      completed: Type.Boolean({ description: 'Whether the run has now visited every member.' }),
    }),
    { description: 'The run this call worked on; empty when that period’s run had already completed.' },
  ),
  failures: Type.Integer({ description: 'Members whose settlement failed; the next run tries them again.' }),
});

export const PeriodParams = Type.Object({
  period: Type.String({ description: 'A quarter, `YYYY-Qn`, e.g. `2026-Q4`.', maxLength: 20 }),
});
export const AdminUserParams = Type.Object({
  user_id: Type.String({ maxLength: 100, description: "Laurel's user id (a UUID)." }),
});
