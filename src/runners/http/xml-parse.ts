/**
 * XML responses as JSON, for providers that answer in XML (Namecheap, older SOAP-ish APIs). The mapping is
 * chosen so that every value can be reached by the dotted paths templates, quotes (`from`) and `failWhen` use
 * (`output.ApiResponse.-Status`, `output.…Price[0].-YourPrice`):
 *
 * - an element is a property named after it; an element that repeats becomes a list, one that does not stays a
 *   single value (so `Price[0]` exists only when there are several `<Price>`s);
 * - an attribute is a property named `-` + its name (`<ApiResponse Status="OK">` → `{"-Status": "OK"}`). XML
 *   names cannot begin with `-`, so an attribute never collides with a child element;
 * - an element with only text is that text; an element with attributes or children keeps its text under
 *   `-text` (`<Error Number="2019166">Domain not available</Error>` → `{"-Number": "2019166", "-text": "Domain not available"}`);
 *   an empty element is `""`;
 * - every value is text, as in the document: nothing is turned into a number or a boolean (`"0012"` and
 *   `"1e5"` stay as written; the quote and JSON Schema read decimal text as they need);
 * - namespace prefixes are dropped (`<s:Body>` → `Body`) and `xmlns` attributes left out; the declaration,
 *   processing instructions and comments are left out; surrounding whitespace is trimmed;
 * - the five XML entities and numeric character references are decoded.
 *
 * Safety: a document with a DOCTYPE (or any `<!ENTITY`) is refused before parsing, so no entity is ever
 * declared or expanded (billion laughs, external entities) and no DTD is read. Nesting deeper than 100
 * elements is refused. Names that would reach an object's prototype (`__proto__`, `constructor`,
 * `prototype`) get a trailing `_`. Text that is not well-formed XML is refused.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { XML_ATTRIBUTE_PREFIX, XML_TEXT_KEY, XmlError } from "./xml.js";

const PROTOTYPE_NAMES = new Set(["__proto__", "constructor", "prototype"]);
const safeName = (name: string): string => (PROTOTYPE_NAMES.has(name) ? `${name}_` : name);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: XML_ATTRIBUTE_PREFIX,
  textNodeName: XML_TEXT_KEY,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  removeNSPrefix: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  allowBooleanAttributes: false,
  // Entities: only the predefined ones and character references (DOCTYPEs are refused before this runs).
  processEntities: true,
  htmlEntities: true,
  maxNestedTags: 100,
  strictReservedNames: false,
  transformTagName: safeName,
  transformAttributeName: safeName,
});

/** XML text → JSON, as described above; throws XmlError for anything refused or malformed. */
export function xmlToJson(text: string): unknown {
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) {
    throw new XmlError("XML with a DOCTYPE or entity declarations is refused (no DTD or entity is ever processed)");
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new XmlError(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  try {
    return parser.parse(text) as unknown;
  } catch (error) {
    throw new XmlError(`XML refused: ${(error as Error).message}`);
  }
}
