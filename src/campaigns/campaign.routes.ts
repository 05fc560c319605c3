import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiKeyParams, ExternalIdParams, UserIdParams } from '../customers/customer.schema.js';
import { adminAuth, adminRetailerOf, appAuth, principalOf } from '../http/auth.js';
import { adminErrors, ErrorRef } from '../http/envelope.js';
import type { RouteDeps } from '../http/route-deps.js';
import {
  AdminCampaignResponse,
  AdminCampaignsResponse,
  CampaignBody,
  CampaignParams,
  CoreCampaignsQuery,
  CoreCampaignsResponse,
  DEFAULT_PAGE,
  DEFAULT_PAGE_SIZE,
  MemberCampaignsResponse,
} from './campaign.schema.js';
import {
  activeCampaignsPage,
  createCampaign,
  endCampaign,
  getCampaign,
  listCampaigns,
  memberCampaigns,
  updateCampaign,
} from './campaign.service.js';

const adminTags = ['Admin'];

/**
 * Campaigns through the admin API (issue #5): list, read, create, change, end. Every change is a
 * new program version, answered with its number.
 */
export const campaignAdminRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, clock, verifier },
) => {
  app.addHook('onRequest', adminAuth(verifier));

  app.get(
    '/campaigns',
    {
      schema: {
        tags: adminTags,
        summary: 'The campaigns of the program in force now, each with its status as of now',
        response: { 200: AdminCampaignsResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await listCampaigns(db, adminRetailerOf(request), await clock.now())),
    }),
  );

  app.get(
    '/campaigns/:campaign_id',
    {
      schema: {
        tags: adminTags,
        summary: 'One campaign of the program in force now',
        params: CampaignParams,
        response: { 200: AdminCampaignResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await getCampaign(db, adminRetailerOf(request), request.params.campaign_id, await clock.now())),
    }),
  );

  app.post(
    '/campaigns',
    {
      schema: {
        tags: adminTags,
        summary: 'Create a campaign: a new program version from now; names are unique',
        body: CampaignBody,
        response: { 200: AdminCampaignResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await createCampaign(db, adminRetailerOf(request), request.body.campaign, await clock.now())),
    }),
  );

  app.put(
    '/campaigns/:campaign_id',
    {
      schema: {
        tags: adminTags,
        summary: 'Change a campaign (the whole campaign): a new program version from now',
        params: CampaignParams,
        body: CampaignBody,
        response: { 200: AdminCampaignResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await updateCampaign(
        db,
        adminRetailerOf(request),
        request.params.campaign_id,
        request.body.campaign,
        await clock.now(),
      )),
    }),
  );

  app.post(
    '/campaigns/:campaign_id/end',
    {
      schema: {
        tags: adminTags,
        summary:
          'End a campaign now (a new program version); purchases from now get nothing from it. ' +
          'Ending an ended campaign changes nothing.',
        params: CampaignParams,
        response: { 200: AdminCampaignResponse, ...adminErrors },
      },
    },
    async (request) => ({
      status: 'ok' as const,
      ...(await endCampaign(db, adminRetailerOf(request), request.params.campaign_id, await clock.now())),
    }),
  );
};

/** Core's campaign listing under `/priv/v1/apps/:api_key` (reference §7, issue #5). */
export const campaignCoreRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { db, clock, verifier },
) => {
  app.addHook('onRequest', appAuth(verifier));

  app.get(
    '/campaigns',
    {
      schema: {
        tags: ['Campaigns'],
        summary: 'The campaigns active now, a page at a time (page from 1, page_size up to 100)',
        params: ApiKeyParams,
        querystring: CoreCampaignsQuery,
        response: { 200: CoreCampaignsResponse, 400: ErrorRef, 401: ErrorRef },
      },
    },
    async (request) => {
      const { retailer_id } = principalOf(request);
      const { page = DEFAULT_PAGE, page_size = DEFAULT_PAGE_SIZE } = request.query;
      return {
        status: 'ok' as const,
        ...(await activeCampaignsPage(db, retailer_id, await clock.now(), page, page_size)),
      };
    },
  );

  // The campaigns a member may join (reference §7, issue #14 item 9), by id or external id.
  const byId = (p: { user_id: string }) => ({ id: p.user_id });
  const byExternal = (p: { external_id: string }) => ({ external_id: p.external_id });
  for (const [path, params, ref] of [
    ['/users/:user_id/campaigns', UserIdParams, byId],
    ['/external/users/:external_id/campaigns', ExternalIdParams, byExternal],
  ] as const) {
    app.get(
      path,
      {
        schema: {
          tags: ['Campaigns'],
          summary: 'The campaigns the member may join now, as tiles and promotions',
          params,
          response: { 200: MemberCampaignsResponse, 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
        },
      },
      async (request) => {
        const { retailer_id } = principalOf(request);
        const userRef = (ref as (p: unknown) => { id: string } | { external_id: string })(request.params);
        return {
          status: 'ok' as const,
          ...(await memberCampaigns(db, retailer_id, userRef, await clock.now())),
        };
      },
    );
  }
};
