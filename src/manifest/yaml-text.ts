/**
 * How toolctl writes a manifest as YAML (`toolctl new`, `tool export`): block style, with lists of words and
 * small maps of words on one line, as a person would write them.
 */
import { Document, isScalar, isSeq, visit } from "yaml";

/** `value` as YAML; `decorate` adds comments first (a map with a comment inside stays in block style). */
export function manifestYaml(value: unknown, decorate: (doc: Document) => void = () => {}): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  decorate(doc);
  const words = (node: unknown) => isScalar(node) || (isSeq(node) && node.items.every((item) => isScalar(item)));
  visit(doc, {
    Seq(_key, node) {
      if (node.items.length > 0 && node.items.every((item) => isScalar(item))) node.flow = true;
    },
    Map(_key, node) {
      // `{type: number}`, `{header: Idempotency-Key}`: at most three short entries of words, no comments inside.
      const plain = node.items.every((pair) => isScalar(pair.key) && !pair.key.commentBefore && !pair.key.comment && words(pair.value));
      if (plain && node.items.length > 0 && node.items.length <= 3 && JSON.stringify(node.toJSON()).length <= 60) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
