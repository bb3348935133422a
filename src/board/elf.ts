// ELF32 little-endian Arm executables: validation, loadable segments, and the symbol table.

export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

export interface ElfSegment {
  /** Physical (load) address: where the bytes live in flash or RAM at reset. */
  paddr: number;
  vaddr: number;
  fileSize: number;
  memSize: number;
  flags: number;
  data: Uint8Array;
}

export interface ElfSection {
  name: string;
  addr: number;
  size: number;
  type: number;
  flags: number;
  offset: number;
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  type: 'func' | 'object' | 'other';
  section: number;
}

export interface ElfImage {
  entry: number;
  segments: ElfSegment[];
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** Symbol by name (first definition wins). */
  symbolByName: Map<string, ElfSymbol>;
  /** Function symbols sorted by address, for PC → function lookups. */
  functions: ElfSymbol[];
}

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const EM_ARM = 40;
const ET_EXEC = 2;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const SHN_UNDEF = 0;

// The budget for decoded symbol and section names (see stringAt): generous for any real file, whose names
// fit in its string tables, and small enough that a hostile file cannot exhaust memory.
const NAME_BUDGET_BASE = 1024 * 1024;
const NAME_BUDGET_PER_FILE_BYTE = 4;

const utf8 = new TextDecoder();

export function parseElf(bytes: Uint8Array, name = 'firmware'): ElfImage {
  const fail = (why: string): never => {
    throw new ElfError(`${name}: not a loadable ELF32 Arm executable: ${why}`);
  };
  if (bytes.length < 52) fail(`file is ${bytes.length} bytes, shorter than an ELF32 header (52 bytes)`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail(
      `bad magic ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')} (expected 7f 45 4c 46)`,
    );
  }
  if (bytes[4] !== 1) fail(`ELF class ${bytes[4]} is not ELFCLASS32 (1)`);
  if (bytes[5] !== 1) fail(`data encoding ${bytes[5]} is not little-endian (1)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (offset: number) => view.getUint16(offset, true);
  const u32 = (offset: number) => view.getUint32(offset, true);
  const type = u16(16);
  const machine = u16(18);
  if (machine !== EM_ARM) fail(`machine ${machine} is not EM_ARM (40)`);
  if (type !== ET_EXEC) fail(`type ${type} is not ET_EXEC (2): link the firmware into an executable`);
  const entry = u32(24);
  const phoff = u32(28);
  const shoff = u32(32);
  const phentsize = u16(42);
  const phnum = u16(44);
  const shentsize = u16(46);
  const shnum = u16(48);
  const shstrndx = u16(50);
  const inFile = (offset: number, length: number, what: string) => {
    if (offset + length > bytes.length || offset < 0)
      fail(`${what} at file offset ${offset} (+${length} bytes) runs past the end of the ${bytes.length}-byte file`);
  };
  if (phnum === 0) fail('no program headers');
  if (phentsize < 32) fail(`program header entry size ${phentsize} is smaller than 32`);
  inFile(phoff, phentsize * phnum, 'program header table');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (u32(at) !== PT_LOAD) continue;
    const offset = u32(at + 4);
    const vaddr = u32(at + 8);
    const paddr = u32(at + 12);
    const fileSize = u32(at + 16);
    const memSize = u32(at + 20);
    const flags = u32(at + 24);
    if (fileSize > memSize) fail(`segment ${i}: file size ${fileSize} exceeds memory size ${memSize}`);
    if (paddr + fileSize > 0x1_0000_0000)
      fail(`segment ${i}: ${fileSize} bytes at 0x${paddr.toString(16)} wrap past 4 GiB`);
    inFile(offset, fileSize, `segment ${i}`);
    segments.push({ paddr, vaddr, fileSize, memSize, flags, data: bytes.subarray(offset, offset + fileSize) });
  }
  if (segments.length === 0) fail('no PT_LOAD segments');

  const sections: ElfSection[] = [];
  const symbols: ElfSymbol[] = [];
  if (shnum > 0 && shoff !== 0) {
    if (shentsize < 40) fail(`section header entry size ${shentsize} is smaller than 40`);
    inFile(shoff, shentsize * shnum, 'section header table');
    const raw: {
      nameIndex: number;
      type: number;
      flags: number;
      addr: number;
      offset: number;
      size: number;
      link: number;
      entsize: number;
    }[] = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * shentsize;
      raw.push({
        nameIndex: u32(at),
        type: u32(at + 4),
        flags: u32(at + 8),
        addr: u32(at + 12),
        offset: u32(at + 16),
        size: u32(at + 20),
        link: u32(at + 24),
        entsize: u32(at + 36),
      });
    }
    // Names are decoded against a budget: in a real file they add up to about the string tables' size, but
    // symbols can point into the middle of one long unterminated string, and 60,000 of them over a 1 MiB
    // table would decode 60 GB (a 2 MiB file that exhausts the heap). Repeated indexes are decoded once.
    const nameBudget = NAME_BUDGET_BASE + NAME_BUDGET_PER_FILE_BYTE * bytes.length;
    let nameBytesLeft = nameBudget;
    const decoded = new Map<number, string>();
    const stringAt = (tableIndex: number, index: number): string => {
      const table = raw[tableIndex];
      if (!table) fail(`string table index ${tableIndex} out of range`);
      inFile(table!.offset, table!.size, `string table ${tableIndex}`);
      if (index >= table!.size) fail(`string index ${index} outside string table ${tableIndex} (${table!.size} bytes)`);
      const start = table!.offset + index;
      const key = tableIndex * 2 ** 32 + index;
      const known = decoded.get(key);
      if (known !== undefined) return known;
      const limit = Math.min(table!.offset + table!.size, start + nameBytesLeft + 1);
      const length = bytes.subarray(start, limit).indexOf(0);
      const nameLength = length < 0 ? limit - start : length;
      if (nameLength > nameBytesLeft) {
        fail(
          `symbol and section names add up to more than ${nameBudget} bytes (string table ${tableIndex} is reused by overlapping names)`,
        );
      }
      nameBytesLeft -= nameLength;
      const name = utf8.decode(bytes.subarray(start, start + nameLength));
      decoded.set(key, name);
      return name;
    };
    for (const section of raw) {
      const sectionName = shstrndx < shnum && shstrndx !== 0 ? stringAt(shstrndx, section.nameIndex) : '';
      sections.push({
        name: sectionName,
        addr: section.addr,
        size: section.size,
        type: section.type,
        flags: section.flags,
        offset: section.offset,
      });
    }
    for (const section of raw) {
      if (section.type !== SHT_SYMTAB) continue;
      const entsize = section.entsize || 16;
      if (entsize < 16) fail(`symbol table entry size ${entsize} is smaller than 16`);
      inFile(section.offset, section.size, 'symbol table');
      for (let at = section.offset; at + 16 <= section.offset + section.size; at += entsize) {
        const info = bytes[at + 12]!;
        const shndx = u16(at + 14);
        if (shndx === SHN_UNDEF) continue;
        const symbolName = stringAt(section.link, u32(at));
        if (symbolName === '' || symbolName.startsWith('$')) continue; // mapping symbols ($t, $d) are not names
        const symbolType = info & 0xf;
        symbols.push({
          name: symbolName,
          value: u32(at + 4),
          size: u32(at + 8),
          type: symbolType === STT_FUNC ? 'func' : symbolType === STT_OBJECT ? 'object' : 'other',
          section: shndx,
        });
      }
    }
  }
  const symbolByName = new Map<string, ElfSymbol>();
  for (const symbol of symbols) if (!symbolByName.has(symbol.name)) symbolByName.set(symbol.name, symbol);
  const functions = symbols
    .filter((symbol) => symbol.type === 'func')
    .map((symbol) => ({ ...symbol, value: symbol.value & ~1 }))
    .sort((a, b) => a.value - b.value);
  return { entry, segments, sections, symbols, symbolByName, functions };
}

/** "name+0x12" for the function containing address, or undefined when none does. */
export function symbolize(image: ElfImage, address: number): string | undefined {
  const functions = image.functions;
  let low = 0;
  let high = functions.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (functions[middle]!.value <= address) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  if (found < 0) return undefined;
  const fn = functions[found]!;
  const offset = address - fn.value;
  if (fn.size > 0 && offset >= fn.size) return undefined;
  if (fn.size === 0 && offset > 0x10000) return undefined;
  return offset === 0 ? fn.name : `${fn.name}+0x${offset.toString(16)}`;
}
