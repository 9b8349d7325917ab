/** String formats the catalog can ask for (FieldDef.format), checked without allocation on the hot path. */

/** ISO 3166-1 alpha-2: the 249 officially assigned codes. */
const COUNTRIES = new Set(
  (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
    "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
    "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
    "MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
    "UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
  ).split(" "),
);

export function isCountry(code: string): boolean {
  return COUNTRIES.has(code);
}

let currencies: Set<string> | null = null;
/** ISO 4217 codes as the runtime's ICU knows them; three capital letters where Intl cannot list them. */
export function isCurrency(code: string): boolean {
  if (!/^[A-Z]{3}$/.test(code)) return false;
  if (!currencies) {
    const intl = Intl as typeof Intl & { supportedValuesOf?: (k: string) => string[] };
    currencies = new Set(intl.supportedValuesOf ? intl.supportedValuesOf("currency") : []);
  }
  return currencies.size === 0 || currencies.has(code);
}

const languages = new Map<string, boolean>();
/** A well-formed IETF BCP 47 language tag (`en`, `en-US`, `zh-Hant-TW`), per Intl.getCanonicalLocales. */
export function isLanguageTag(tag: string): boolean {
  let ok = languages.get(tag);
  if (ok === undefined) {
    try {
      ok = tag.length <= 64 && Intl.getCanonicalLocales(tag).length === 1;
    } catch {
      ok = false;
    }
    if (languages.size < 10_000) languages.set(tag, ok);
  }
  return ok;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const digits = (s: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
};

/** `YYYY-MM-DD`, a real calendar day. */
export function isDate(s: string): boolean {
  if (s.length !== 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false;
  const y = digits(s, 0, 4);
  const m = digits(s, 5, 7);
  const d = digits(s, 8, 10);
  if (y < 0 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (m === 2 && leap ? 29 : (DAYS[m - 1] ?? 0));
}

/** `YYYY-MM-DD HH:MM:SS` (UTC), a real calendar day and time of day. */
export function isTimestamp(s: string): boolean {
  if (s.length !== 19 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  if (!isDate(s.slice(0, 10))) return false;
  const h = digits(s, 11, 13);
  const mi = digits(s, 14, 16);
  const se = digits(s, 17, 19);
  return h >= 0 && h < 24 && mi >= 0 && mi < 60 && se >= 0 && se < 60;
}

/** A Date as `YYYY-MM-DD HH:MM:SS` in UTC. */
export function formatTimestamp(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/** `YYYY-MM-DD HH:MM:SS` (UTC) as epoch seconds. */
export function timestampToEpoch(s: string): number {
  return Math.floor(Date.parse(`${s.replace(" ", "T")}Z`) / 1000);
}

export { utf8Length } from "../../lib/utf8";
