/**
 * What the http runner needs to know about XML before it has an XML answer: whether a Content-Type is XML, the
 * key text lands under, and the error a refused document raises. The parser itself (xml-parse.ts, with
 * fast-xml-parser, 170 KB) is loaded only for an XML answer: a JSON run never parses it.
 */
export const XML_ATTRIBUTE_PREFIX = "-";
export const XML_TEXT_KEY = "-text";

export class XmlError extends Error {}

/** Does the Content-Type say XML (`application/xml`, `text/xml`, `application/atom+xml`, …)? */
export function isXmlContentType(contentType: string): boolean {
  return /^\s*(application|text)\/([\w.-]+\+)?xml\b/i.test(contentType);
}
