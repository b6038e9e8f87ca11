/** The incidents of a status page as an Atom feed (RFC 4287): one entry per incident, its updates as text. */
import type { PublicIncident, PublicView } from './view.ts'

const escapeXml = (s: string) =>
  s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch]!)
// Characters XML 1.0 forbids (control characters other than tab and newlines) are dropped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what is removed
const text = (s: string) => escapeXml(s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, ''))

function entry(i: PublicIncident, pageUrl: string) {
  const body = i.updates.map((u) => `${u.at} ${u.status}: ${u.message}`).join('\n\n')
  const summary = `${i.status}${i.components.length ? ` · affects ${i.components.join(', ')}` : ''}`
  return `  <entry>
    <id>${text(`${pageUrl}#incident-${i.id}`)}</id>
    <title>${text(i.title)}</title>
    <published>${i.startedAt}</published>
    <updated>${i.updatedAt}</updated>
    <link rel="alternate" type="text/html" href="${text(`${pageUrl}#incident-${i.id}`)}"/>
    <summary type="text">${text(summary)}</summary>
    <content type="text">${text(body)}</content>
  </entry>`
}

/** `publicUrl`: the server's PUBLIC_URL, so ids and links are absolute as Atom asks. */
export function renderAtom(v: PublicView, publicUrl: string) {
  const pageUrl = `${publicUrl}/status/${v.page.slug}`
  const incidents = [...v.incidents.active, ...v.incidents.past]
  const updated =
    incidents
      .map((i) => i.updatedAt)
      .sort()
      .at(-1) ?? v.generatedAt
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>${text(pageUrl)}</id>
  <title>${text(`${v.page.title} incidents`)}</title>
  <updated>${updated}</updated>
  <author><name>${text(v.page.title)}</name></author>
  <link rel="self" type="application/atom+xml" href="${text(`${pageUrl}/feed.atom`)}"/>
  <link rel="alternate" type="text/html" href="${text(pageUrl)}"/>
${incidents.map((i) => entry(i, pageUrl)).join('\n')}
</feed>
`
}
