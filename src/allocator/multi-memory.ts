/**
 * A heap whose pools live in more than one memory (or at more than one base): every word access
 * first checks the first pool's range and otherwise looks the address up in the pool table, and
 * malloc, free and realloc take the generic paths, which reach words only through word/setWord.
 * A heap becomes this class in addPool (Object.setPrototypeOf, one way); it is never constructed.
 * Built by a function of the base class so that this file needs tlsf.ts only as a type, and the two
 * modules do not import each other at load time.
 */
import type { Tlsf } from './tlsf.js';

export function multiMemoryClass(Base: typeof Tlsf): typeof Tlsf {
  return class MultiMemoryTlsf extends Base {
    override malloc(size: number): number {
      return this.mallocGeneric(size);
    }

    override free(ptr: number): void {
      this.freeGeneric(ptr);
    }

    override realloc(ptr: number, size: number): number {
      return this.reallocGeneric(ptr, size);
    }

    protected override word(index: number): number {
      if ((index - this.fastStartWord) >>> 0 < this.fastWordSpan) return this.fastWords[index]!;
      return this.loadOther((this.fastBase + index * 4) >>> 0);
    }

    protected override setWord(index: number, value: number): void {
      if ((index - this.fastStartWord) >>> 0 < this.fastWordSpan) this.fastWords[index] = value;
      else this.storeOther((this.fastBase + index * 4) >>> 0, value);
    }

    /** Blocks may be in different buffers: the checked copy. */
    protected override moveBytes(from: number, to: number, length: number): void {
      this.copy(from, to, length);
    }
  };
}
