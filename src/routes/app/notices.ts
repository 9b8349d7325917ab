/**
 * Messages shown after a redirect. The URL carries only a code (`?notice=published`), never the
 * text, so a link cannot make the page say something of the sender's choosing.
 */
const NOTICES = {
  published: "Published.",
  draft: "Saved as a draft.",
  run: "Run started.",
  enabled: "Enabled: scheduled runs happen again.",
  disabled: "Disabled: no scheduled runs until it is enabled; it can be edited now.",
  deleted: "Export deleted. Its past files stay downloadable until they expire.",
  revoked: "Key revoked.",
  redeliver: "Delivering the file again.",
  "not-active": "Only active exports run: publish the draft or enable the export first.",
} as const;

export type NoticeCode = keyof typeof NOTICES;

export const noticeText = (code: string | undefined): string | undefined =>
  code && Object.hasOwn(NOTICES, code) ? NOTICES[code as NoticeCode] : undefined;

export function withNotice(url: string, code: NoticeCode): string {
  const u = new URL(url, "http://app.invalid");
  u.searchParams.set("notice", code);
  return `${u.pathname}${u.search}`;
}
