// Splits text holding several JSON documents one after another (vtysh with several `-c … json` prints
// their outputs back to back) into the parsed documents. Text outside any document (an FRR "% …" error
// line) is returned separately rather than breaking the parse.

export interface JsonDocuments {
  readonly documents: unknown[];
  /** Non-JSON text found between documents, trimmed, one entry per run. */
  readonly other: string[];
}

export function splitJsonDocuments(text: string): JsonDocuments {
  const documents: unknown[] = [];
  const other: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let junkStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (depth === 0) {
      if (c !== '{' && c !== '[') continue;
      const junk = text.slice(junkStart, i).trim();
      if (junk) other.push(junk);
      start = i;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) {
        documents.push(JSON.parse(text.slice(start, i + 1)));
        junkStart = i + 1;
      }
    }
  }
  if (depth !== 0) throw new SyntaxError('unterminated JSON document');
  const tail = text.slice(junkStart).trim();
  if (tail) other.push(tail);
  return { documents, other };
}
