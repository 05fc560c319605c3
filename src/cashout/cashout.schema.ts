import { Type } from '@sinclair/typebox';

/** Wire shapes of gift cards and cash-out reports (issue #5, DESIGN §7). */

const giftCardFields = (issuedAt: string) => ({
  id: Type.String({ description: 'The gift card id; the same before and after the cash-out is written.' }),
  code: Type.String({
    description:
      'The redemption code (four groups of four characters). Whole on the Core API; masked but for its last group on the admin API.',
  }),
  value: Type.Number({ description: 'Value in currency units, a multiple of the program denomination.' }),
  currency: Type.String(),
  period: Type.String({ description: 'The cash-out period, `YYYY-Qn`.' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('redeemed'), Type.Literal('void')]),
  points: Type.Integer({ description: 'Spendable points converted into the card.' }),
  points_left: Type.Integer({ description: 'Spendable points the member kept at the cash-out.' }),
  issued_at: Type.String({ description: issuedAt }),
});

export const CoreGiftCard = Type.Object(
  giftCardFields(
    'The cash-out instant, `YYYY-MM-DD HH:MM:SS` UTC (the end of the period in the program zone).',
  ),
);
export const AdminGiftCard = Type.Object(giftCardFields('The cash-out instant, ISO-8601.'));

export const CoreGiftCardsResponse = Type.Object({
  status: Type.Literal('ok'),
  gift_cards: Type.Array(CoreGiftCard),
});
export const AdminGiftCardsResponse = Type.Object({
  status: Type.Literal('ok'),
  gift_cards: Type.Array(AdminGiftCard),
});

export const CashOutReport = Type.Object({
  period: Type.String({ description: '`YYYY-Qn`' }),
  period_end: Type.String({ description: 'The cash-out instant, ISO-8601.' }),
  currency: Type.String(),
  members: Type.Integer({ description: 'Members who received a gift card for the period.' }),
  points_converted: Type.Integer(),
  gift_card_value: Type.Number({ description: 'Total value of the period’s gift cards, in currency units.' }),
  points_left: Type.Integer({ description: 'Spendable points those members kept.' }),
  run: Type.Union(
    [
      Type.Object({
        started_at: Type.String(),
        completed_at: Type.Union([Type.String(), Type.Null()]),
        members_visited: Type.Integer(),
      }),
      Type.Null(),
    ],
    {
      description:
        'The cash-out run over every member; null when none has started (reads still show each member’s cash-out).',
    },
  ),
});

export const CashOutReportResponse = Type.Object({ status: Type.Literal('ok'), cash_out: CashOutReport });
export const CashOutReportsResponse = Type.Object({
  status: Type.Literal('ok'),
  cash_outs: Type.Array(CashOutReport),
});
export const CashOutRunResponse = Type.Object({
  status: Type.Literal('ok'),
  runs: Type.Array(
    Type.Object({ period: Type.String(), members: Type.Integer(), completed: Type.Boolean() }),
  ),
  failures: Type.Integer({ description: 'Members whose settlement failed; the next run tries them again.' }),
});

export const PeriodParams = Type.Object({
  period: Type.String({ description: 'A quarter, `YYYY-Qn`, e.g. `2026-Q4`.', maxLength: 20 }),
});
export const AdminUserParams = Type.Object({ user_id: Type.String({ maxLength: 100 }) });
