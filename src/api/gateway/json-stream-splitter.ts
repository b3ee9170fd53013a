/**
 * Splits a streamed HTTP body into its top-level JSON values, as grpc-gateway's JSON decoder
 * reads a client stream (`{...}{...}` or one per line). Only the nesting and string state is
 * tracked; each complete value is then handed to JSON.parse. A value may not exceed
 * `maxValueChars`, so a client cannot make the member buffer an endless object.
 */
import { StringDecoder } from 'node:string_decoder';
import { ApiError, GrpcCode } from '../etcd-errors.ts';
import { parseJsonExact } from './exact-json.ts';

export class JsonStreamSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private readonly maxValueChars: number;
  private buffer = '';
  /** How far `buffer` has been scanned, and the scanner's state there. */
  private scanned = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(maxValueChars: number) {
    this.maxValueChars = maxValueChars;
  }

  /** Feeds bytes; returns the values completed by them. Throws ApiError on garbage. */
  push(chunk: Buffer): unknown[] {
    this.buffer += this.decoder.write(chunk);
    const values: unknown[] = [];
    let start = 0;
    for (let index = this.scanned; index < this.buffer.length; index++) {
      const char = this.buffer[index];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (char === '\\') this.escaped = true;
        else if (char === '"') this.inString = false;
        continue;
      }
      if (char === '"') this.inString = true;
      else if (char === '{' || char === '[') this.depth++;
      else if (char === '}' || char === ']') {
        this.depth--;
        if (this.depth < 0) throw this.invalid('unexpected closing bracket');
        if (this.depth === 0) {
          values.push(this.parse(this.buffer.slice(start, index + 1)));
          start = index + 1;
        }
      } else if (this.depth === 0 && !/\s/.test(char)) {
        throw this.invalid(`unexpected character ${JSON.stringify(char)} between messages`);
      }
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    if (this.buffer.length > this.maxValueChars) throw this.invalid('message too large');
    return values;
  }

  /** Whether an incomplete value is pending (the body ended inside it). */
  get hasPartialValue(): boolean {
    return this.buffer.trim() !== '';
  }

  private parse(text: string): unknown {
    try {
      return parseJsonExact(text);
    } catch (error) {
      throw this.invalid(error instanceof Error ? error.message : String(error));
    }
  }

  private invalid(message: string): ApiError {
    return new ApiError(GrpcCode.INVALID_ARGUMENT, message);
  }
}
