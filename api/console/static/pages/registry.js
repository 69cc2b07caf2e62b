// Every console page, in menu order. A page is a module exporting:
//   route     '#/<route>/<params...>'
//   title     i18n key of its menu entry and heading
//   module    shown only when the tenant has this module on (null: always)
//   minRole   shown only to this role and above (VIEWER < ANALYST < AGENT < ADMIN)
//   platform  true: the platform key's page (a platform key sees only these)
//   nav       false: reached by links only (customer/<id>)
//   home      the page '#/' opens
//   render(view, ctx): fills `view`; at most 2 ctx.gql calls (docs/console.md)
// Controls that write carry `data-write` on themselves or their container and
// are drawn only when ctx.can(<the role the API wants>): the walk test checks
// a viewer meets none.
import overview from './overview.js';
import customers from './customers.js';
import customer from './customer.js';
import rfm from './rfm.js';
import clv from './clv.js';
import loyalty from './loyalty.js';
import complaints from './complaints.js';
import satisfaction from './satisfaction.js';
import campaigns from './campaigns.js';
import lifecycle from './lifecycle.js';
import modules from './modules.js';
import jobs from './jobs.js';
import keys from './keys.js';
import webhooks from './webhooks.js';
import data from './data.js';
import tenants from './tenants.js';

export const PAGES = [overview, customers, customer, rfm, clv, loyalty, complaints, satisfaction, campaigns, lifecycle, modules, jobs, keys, webhooks, data, tenants];
