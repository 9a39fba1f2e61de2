/**
 * A fake Namecheap API on 127.0.0.1 that speaks Namecheap's wire format: `/xml.response` with the global
 * parameters (ApiUser, ApiKey, UserName, ClientIp, Command) and the command's own, either in the query string
 * (GET) or in an `application/x-www-form-urlencoded` body (POST, which Namecheap recommends for
 * domains.create; the query string of a POST is read too), always HTTP 200 with `text/xml`, and
 * `<ApiResponse Status="OK|ERROR" xmlns="http://api.namecheap.com/xml.response">` carrying `<Errors>` (each
 * `<Error Number="…">message</Error>`) and, on success, a `<CommandResponse Type="…">`.
 *
 * - Parameter names Namecheap does not know are ignored without a word, as Namecheap does (a misspelt
 *   optional field is silently dropped). The fake records them: `received` holds every call's parameters,
 *   where they came from and the names the command ignored, so a test can see what Namecheap would have used.
 *
 * - Credentials as Namecheap checks them: a missing ApiUser is 1010101; a wrong ApiUser, UserName or ApiKey is
 *   1011102 ("API Key is invalid or API access has not been enabled"); a ClientIp that is not an IPv4 address is
 *   1011150 "Parameter RequestIP is invalid", and one that is not whitelisted 1011150 "Invalid request IP: <ip>".
 * - `namecheap.domains.check` (DomainList, comma-separated): `<DomainCheckResult Domain Available …/>` per name;
 *   a TLD it does not sell is 2030280 "TLD is not supported in API".
 * - `namecheap.users.getPricing` (ProductType=DOMAIN, ActionName=REGISTER, ProductName=<tld>): the register price
 *   for 1 to 10 years (`<Price Duration="1" … YourPrice="10.28" Currency="USD"/>`, one per duration).
 * - `namecheap.domains.create` (DomainName, Years, and the Registrant/Tech/Admin/AuxBilling contact fields,
 *   named as in Namecheap's reference: `<Role>OrganizationName`, `<Role>FirstName`, … `<Role>EmailAddress`): a
 *   taken domain is 2019166 "Domain not available"; a missing contact field 2010323; success records the
 *   registration (`registrations`, with each role's contact as Namecheap stored it), makes the domain taken,
 *   and answers `<DomainCreateResult … Registered="true" ChargedAmount="…"/>`.
 *
 * 1011150, 1011102, 2030280 and 2019166 are Namecheap's numbers; the others are from its documentation's lists
 * and matter only as examples of "some other error".
 */
import type http from "node:http";
import { FakeProvider, randomId, sendText, type SeenRequest } from "./server.js";

export type ContactRole = (typeof CONTACT_ROLES)[number];

export interface NamecheapRegistration {
  domain: string;
  years: number;
  chargedUsd: number;
  registrant: Record<string, string>;
  /** Each role's contact as stored: the known fields that were sent, by their Namecheap name without the role. */
  contacts: Record<ContactRole, Record<string, string>>;
}

/** One call as Namecheap read it. */
export interface NamecheapCall {
  method: string;
  command: string;
  /** Every parameter, from the query string and (for a POST) the form body. */
  params: Record<string, string>;
  /** The parameters that came in the URL's query string. */
  inQuery: string[];
  /** Names the command does not know: Namecheap ignores them. */
  ignored: string[];
}

const CONTACT_ROLES = ["Registrant", "Tech", "Admin", "AuxBilling"] as const;
const REQUIRED_CONTACT_FIELDS = ["FirstName", "LastName", "Address1", "City", "StateProvince", "PostalCode", "Country", "Phone", "EmailAddress"];
// namecheap.domains.create's contact fields, per role (Namecheap's reference).
const CONTACT_FIELDS = [
  "OrganizationName",
  "JobTitle",
  "FirstName",
  "LastName",
  "Address1",
  "Address2",
  "City",
  "StateProvince",
  "StateProvinceChoice",
  "PostalCode",
  "Country",
  "Phone",
  "PhoneExt",
  "Fax",
  "EmailAddress",
];
const GLOBAL_PARAMS = ["ApiUser", "ApiKey", "UserName", "ClientIp", "Command"];
const COMMAND_PARAMS: Record<string, readonly string[]> = {
  "namecheap.domains.check": ["DomainList"],
  "namecheap.users.getPricing": ["ProductType", "ProductCategory", "PromotionCode", "ActionName", "ProductName"],
  "namecheap.domains.create": [
    "DomainName",
    "Years",
    "PromotionCode",
    "Nameservers",
    "AddFreeWhoisguard",
    "WGEnabled",
    "IsPremiumDomain",
    "PremiumPrice",
    "EapFee",
    "IdnCode",
    ...CONTACT_ROLES.flatMap((role) => CONTACT_FIELDS.map((field) => `${role}${field}`)),
  ],
};

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
const attributes = (values: Record<string, string | number | boolean>): string =>
  Object.entries(values)
    .map(([k, v]) => `${k}="${escapeXml(String(v))}"`)
    .join(" ");

class NamecheapError {
  constructor(
    readonly number: number,
    readonly message: string,
  ) {}
}

export interface FakeNamecheapOptions {
  apiUser?: string;
  apiKey?: string;
  whitelistedIps?: string[];
  /** Registered already: check says Available="false", create says "Domain not available". */
  taken?: string[];
  /** USD for one year, per TLD. */
  prices?: Record<string, number>;
  /** The `<Server>` each answer names, so a test can tell the sandbox from production. */
  server?: string;
}

/** Every parameter of a request: the query string, and for a POST the form body on top. */
function requestParams(req: SeenRequest): URLSearchParams {
  const params = new URLSearchParams(new URL(req.url, "http://x").searchParams);
  if (req.method === "POST") for (const [name, value] of new URLSearchParams(req.body)) params.set(name, value);
  return params;
}

export class FakeNamecheap extends FakeProvider {
  readonly apiUser: string;
  readonly apiKey: string;
  readonly whitelistedIps: Set<string>;
  readonly taken: Set<string>;
  readonly prices: Record<string, number>;
  readonly serverName: string;
  readonly registrations: NamecheapRegistration[] = [];
  readonly received: NamecheapCall[] = [];

  constructor(options: FakeNamecheapOptions = {}) {
    super();
    this.apiUser = options.apiUser ?? "alice";
    this.apiKey = options.apiKey ?? randomId(32, "0123456789abcdef");
    this.whitelistedIps = new Set(options.whitelistedIps ?? ["203.0.113.7"]);
    this.taken = new Set(options.taken ?? ["google.com", "example.com", "namecheap.com"]);
    this.prices = options.prices ?? { com: 10.28, net: 12.98, org: 9.58, io: 34.98, "co.uk": 7.48 };
    this.serverName = options.server ?? "PHX01APIEXT01";
  }

  /** Requests of one Command, wherever it was sent (query string or form body). */
  commands(command: string): SeenRequest[] {
    return this.server.requests.filter((r) => requestParams(r).get("Command") === command);
  }

  /** The calls of one Command as Namecheap read them. */
  calls(command: string): NamecheapCall[] {
    return this.received.filter((call) => call.command === command);
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    const url = new URL(req.url, "http://x");
    if (url.pathname !== "/xml.response") return sendText(res, 404, "Not Found", "text/html");
    const params = requestParams(req);
    const command = params.get("Command") ?? "";
    const known = new Set([...GLOBAL_PARAMS, ...(COMMAND_PARAMS[command] ?? [])]);
    this.received.push({
      method: req.method,
      command,
      params: Object.fromEntries(params),
      inQuery: [...url.searchParams.keys()],
      ignored: [...params.keys()].filter((name) => !known.has(name)),
    });
    let body: string;
    try {
      this.authenticate(params);
      body = this.envelope("OK", command, [], this.run(command, params));
    } catch (error) {
      if (!(error instanceof NamecheapError)) throw error;
      body = this.envelope("ERROR", command, [error], undefined);
    }
    // Namecheap answers every call, failed or not, with 200.
    sendText(res, 200, body, "text/xml; charset=utf-8");
  }

  private authenticate(params: URLSearchParams): void {
    const user = params.get("ApiUser");
    if (!user) throw new NamecheapError(1010101, "Parameter APIUser is missing");
    if (user !== this.apiUser || params.get("UserName") !== this.apiUser || params.get("ApiKey") !== this.apiKey) {
      throw new NamecheapError(1011102, "API Key is invalid or API access has not been enabled");
    }
    const ip = params.get("ClientIp") ?? "";
    if (!/^(\d{1,3})(\.\d{1,3}){3}$/.test(ip) || ip.split(".").some((part) => Number(part) > 255)) {
      throw new NamecheapError(1011150, "Parameter RequestIP is invalid");
    }
    if (!this.whitelistedIps.has(ip)) throw new NamecheapError(1011150, `Invalid request IP: ${ip}`);
  }

  private run(command: string, params: URLSearchParams): string {
    switch (command) {
      case "namecheap.domains.check":
        return this.check(params);
      case "namecheap.users.getPricing":
        return this.pricing(params);
      case "namecheap.domains.create":
        return this.create(params);
      default:
        throw new NamecheapError(1010104, `Invalid Command: ${command || "(missing)"}`);
    }
  }

  private tldOf(domain: string): string {
    const known = Object.keys(this.prices)
      .filter((tld) => domain.endsWith(`.${tld}`))
      .sort((a, b) => b.length - a.length)[0];
    if (!known) throw new NamecheapError(2030280, "TLD is not supported in API");
    return known;
  }

  private check(params: URLSearchParams): string {
    const domains = (params.get("DomainList") ?? "")
      .split(",")
      .map((d) => d.trim().toLowerCase())
      .filter((d) => d !== "");
    if (domains.length === 0) throw new NamecheapError(2011169, "Parameter DomainList is missing");
    const results = domains.map((domain) => {
      this.tldOf(domain);
      return `    <DomainCheckResult ${attributes({
        Domain: domain,
        Available: !this.taken.has(domain),
        ErrorNo: 0,
        Description: "",
        IsPremiumName: false,
        PremiumRegistrationPrice: 0,
        PremiumRenewalPrice: 0,
        PremiumRestorePrice: 0,
        PremiumTransferPrice: 0,
        IcannFee: 0,
        EapFee: "0.0",
      })} />`;
    });
    return `  <CommandResponse Type="namecheap.domains.check">\n${results.join("\n")}\n  </CommandResponse>`;
  }

  private pricing(params: URLSearchParams): string {
    if (params.get("ProductType") !== "DOMAIN") throw new NamecheapError(2011170, "Parameter ProductType is invalid");
    if (params.get("ActionName") !== "REGISTER") throw new NamecheapError(2011170, "Parameter ActionName is invalid");
    const tld = (params.get("ProductName") ?? "").toLowerCase();
    const price = this.prices[tld];
    if (price === undefined) throw new NamecheapError(2030280, "TLD is not supported in API");
    const prices = Array.from({ length: 10 }, (_, i) => {
      const years = i + 1;
      const total = (price * years).toFixed(2);
      return `            <Price ${attributes({
        Duration: years,
        DurationType: "YEAR",
        Price: total,
        PricingType: "MULTIPLE",
        AdditionalCost: "0.18",
        RegularPrice: total,
        RegularPriceType: "MULTIPLE",
        YourPrice: total,
        YourPriceType: "MULTIPLE",
        PromotionPrice: "0.0",
        Currency: "USD",
      })} />`;
    });
    return [
      `  <CommandResponse Type="namecheap.users.getPricing">`,
      `    <UserGetPricingResult>`,
      `      <ProductType Name="domains">`,
      `        <ProductCategory Name="register">`,
      `          <Product Name="${escapeXml(tld)}">`,
      ...prices,
      `          </Product>`,
      `        </ProductCategory>`,
      `      </ProductType>`,
      `    </UserGetPricingResult>`,
      `  </CommandResponse>`,
    ].join("\n");
  }

  private create(params: URLSearchParams): string {
    const domain = (params.get("DomainName") ?? "").toLowerCase();
    if (domain === "") throw new NamecheapError(2010324, "Parameter DomainName is missing");
    const years = Number(params.get("Years") ?? "");
    if (!Number.isInteger(years) || years < 1 || years > 10) throw new NamecheapError(2015167, "Validation error from Years");
    const tld = this.tldOf(domain);
    for (const role of CONTACT_ROLES) {
      for (const field of REQUIRED_CONTACT_FIELDS) {
        if (!params.get(`${role}${field}`)) throw new NamecheapError(2010323, `Check the required field for ${role} domain contacts: ${role}${field}`);
      }
    }
    if (this.taken.has(domain)) throw new NamecheapError(2019166, "Domain not available");
    const chargedUsd = Number((this.prices[tld]! * years).toFixed(2));
    this.taken.add(domain);
    const registrant = Object.fromEntries(REQUIRED_CONTACT_FIELDS.map((field) => [field, params.get(`Registrant${field}`) ?? ""]));
    const contacts = Object.fromEntries(
      CONTACT_ROLES.map((role) => [
        role,
        Object.fromEntries(CONTACT_FIELDS.filter((field) => params.has(`${role}${field}`)).map((field) => [field, params.get(`${role}${field}`)!])),
      ]),
    ) as Record<ContactRole, Record<string, string>>;
    this.registrations.push({ domain, years, chargedUsd, registrant, contacts });
    return `  <CommandResponse Type="namecheap.domains.create">\n    <DomainCreateResult ${attributes({
      Domain: domain,
      Registered: true,
      ChargedAmount: chargedUsd.toFixed(4),
      DomainID: 9000 + this.registrations.length,
      OrderID: 196000 + this.registrations.length,
      TransactionID: 380000 + this.registrations.length,
      WhoisguardEnable: false,
      FreePositiveSSL: false,
      NonRealTimeDomain: false,
    })} />\n  </CommandResponse>`;
  }

  private envelope(status: "OK" | "ERROR", command: string, errors: NamecheapError[], commandResponse: string | undefined): string {
    const errorXml =
      errors.length === 0
        ? "  <Errors />"
        : `  <Errors>\n${errors.map((e) => `    <Error Number="${e.number}">${escapeXml(e.message)}</Error>`).join("\n")}\n  </Errors>`;
    return [
      `<?xml version="1.0" encoding="utf-8"?>`,
      `<ApiResponse Status="${status}" xmlns="http://api.namecheap.com/xml.response">`,
      errorXml,
      "  <Warnings />",
      `  <RequestedCommand>${escapeXml(command.toLowerCase())}</RequestedCommand>`,
      ...(commandResponse !== undefined ? [commandResponse] : []),
      `  <Server>${escapeXml(this.serverName)}</Server>`,
      "  <GMTTimeDifference>--5:00</GMTTimeDifference>",
      "  <ExecutionTime>0.012</ExecutionTime>",
      "</ApiResponse>",
      "",
    ].join("\n");
  }
}
