import { Type, type Static } from '@sinclair/typebox';
import { OkStatus } from '../http/envelope.js';
import {
  CampaignAwardSchema,
  CampaignInputSchema,
  CampaignTargetingSchema,
  campaignFields,
} from '../program/program.schema.js';

/** Wire types of the campaigns: the admin API (Laurel's) and Core's listing (reference §7), issue #5. */

export const CampaignParams = Type.Object({
  campaign_id: Type.String({ description: 'The campaign id (a UUID).' }),
});

export const CampaignBody = Type.Object({ campaign: CampaignInputSchema }, { additionalProperties: false });
export type CampaignBody = Static<typeof CampaignBody>;

const Status = Type.Union([Type.Literal('scheduled'), Type.Literal('active'), Type.Literal('ended')], {
  description: 'As of now: scheduled before its first day, ended after its last day or once ended.',
});

export const AdminCampaign = Type.Object(
  {
    ...campaignFields,
    id: Type.String({ description: 'The campaign id (a UUID).' }),
    ended_at: Type.Optional(Type.String({ description: 'When the end action ended it (ISO-8601, UTC).' })),
    status: Status,
  },
  { description: 'A campaign with its status as of now.' },
);

const ProgramVersionNumber = Type.Integer({
  description: 'The program version holding this state of the campaigns (a change makes a new one).',
});

export const AdminCampaignResponse = Type.Object({
  status: OkStatus,
  program_version: ProgramVersionNumber,
  campaign: AdminCampaign,
});

export const AdminCampaignsResponse = Type.Object({
  status: OkStatus,
  program_version: ProgramVersionNumber,
  campaigns: Type.Array(AdminCampaign, {
    description: "Every campaign of the program in force now, in the document's order.",
  }),
});

export const DEFAULT_PAGE = 1;
export const DEFAULT_PAGE_SIZE = 20;

export const CoreCampaignsQuery = Type.Object(
  {
    // Optional with a default: clients may leave them out (the OpenAPI document said required).
    page: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        default: DEFAULT_PAGE,
        description: 'Page number from 1; default 1. A page past the end is empty.',
      }),
    ),
    page_size: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        default: DEFAULT_PAGE_SIZE,
        description: 'Campaigns per page, 1 to 100; default 20.',
      }),
    ),
    sections: Type.Optional(Type.String({ description: 'Accepted for compatibility and ignored.' })),
    creatives: Type.Optional(Type.String({ description: 'Accepted for compatibility and ignored.' })),
  },
  { additionalProperties: true },
);
export type CoreCampaignsQuery = Static<typeof CoreCampaignsQuery>;

export const CoreCampaign = Type.Object({
  id: Type.String({ description: 'The campaign id (a UUID).' }),
  campaign_id: Type.String({ description: 'The campaign id again, as some clients read it.' }),
  name: Type.String({ description: 'The campaign name.' }),
  start_time: Type.String({
    description: 'When it starts: program-local midnight of its first day, YYYY-MM-DD HH:MM:SS (UTC).',
  }),
  end_time: Type.String({
    description:
      'The first instant it no longer runs: midnight after its last day, or when it was ended; YYYY-MM-DD HH:MM:SS (UTC).',
  }),
  custom_payload: Type.Record(Type.String(), Type.Unknown(), {
    description: "The program's custom payload for clients (e.g. offer_id); {} when it sets none.",
  }),
  start_date: Type.String({ description: 'First day, program-local, YYYY-MM-DD.' }),
  end_date: Type.String({ description: 'Last day (inclusive), program-local, YYYY-MM-DD.' }),
  award: CampaignAwardSchema,
  targeting: Type.Required(CampaignTargetingSchema, {
    description: 'Empty lists mean everyone.',
  }),
  tier_qualifying: Type.Boolean({ description: "Whether the campaign's points also count toward tiers." }),
  max_awards_per_member: Type.Union([Type.Integer(), Type.Null()], { description: 'null: no limit.' }),
});

/** Core's grouping of campaigns by creative (reference §7): `tiles` and `promotions`. */
const CoreCampaignGroups = (description: string) =>
  Type.Object(
    {
      tiles: Type.Array(CoreCampaign, { description: 'Campaigns shown as tiles (the default creative).' }),
      promotions: Type.Array(CoreCampaign, { description: 'Campaigns whose creative is promotion.' }),
    },
    { description },
  );

export const CoreCampaignsResponse = Type.Object({
  status: OkStatus,
  page: Type.Integer({ description: 'The page asked for.' }),
  page_size: Type.Integer({ description: 'The page size asked for.' }),
  number_of_pages: Type.Integer({ description: '0 when no campaign is active.' }),
  campaigns: CoreCampaignGroups(
    'The active campaigns of this page, by first day, then name, as tiles and promotions.',
  ),
});

export const MemberCampaignsResponse = Type.Object({
  status: OkStatus,
  campaigns: CoreCampaignGroups(
    'The campaigns the member may join now (active, enrolled, admitted by the tier targeting), by first day, then name.',
  ),
});
