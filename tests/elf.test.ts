// The ELF loader (src/board/elf.ts) on small ELFs built byte by byte: a valid one, then each way a file can
// be malformed, every one refused in one line naming the file and what is wrong.
import { describe, expect, it } from 'vitest';
import { parseElf, symbolize } from '../src/board/elf.js';

const EM_ARM = 40;
const PT_LOAD = 1;
const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const STT_FUNC = 2;

interface SectionSpec {
  name: string;
  type: number;
  data: Uint8Array;
  link?: number;
  entsize?: number;
  addr?: number;
}

interface Built {
  bytes: Uint8Array;
  view: DataView;
  /** File offsets of the program header table, the section header table and each section's data. */
  phoff: number;
  shoff: number;
  sectionOffsets: number[];
}

/** Concatenated NUL-terminated names, with the index of each (index 0 is the empty name). */
function stringTable(names: string[]): { data: Uint8Array; index: Record<string, number> } {
  const index: Record<string, number> = {};
  let text = '\0';
  for (const name of names) {
    index[name] = text.length;
    text += `${name}\0`;
  }
  return { data: new TextEncoder().encode(text), index };
}

function symbolTable(
  symbols: { nameIndex: number; value: number; size?: number; info?: number; shndx?: number }[],
): Uint8Array {
  const data = new Uint8Array(16 * (symbols.length + 1));
  const view = new DataView(data.buffer);
  symbols.forEach((symbol, i) => {
    const at = 16 * (i + 1);
    view.setUint32(at, symbol.nameIndex, true);
    view.setUint32(at + 4, symbol.value, true);
    view.setUint32(at + 8, symbol.size ?? 0, true);
    data[at + 12] = symbol.info ?? STT_FUNC;
    view.setUint16(at + 14, symbol.shndx ?? 1, true);
  });
  return data;
}

/**
 * An ELF32 little-endian Arm executable: header, program headers (one PT_LOAD per segment), segment bytes,
 * section bytes, then section headers (a null section, `sections`, and .shstrtab last).
 */
function buildElf(segments: { paddr: number; data: Uint8Array }[], sections: SectionSpec[] = []): Built {
  const shstrtab = stringTable([...sections.map((section) => section.name), '.shstrtab']);
  const allSections = [...sections, { name: '.shstrtab', type: SHT_STRTAB, data: shstrtab.data }];
  const phoff = 52;
  let offset = phoff + 32 * segments.length;
  const segmentOffsets = segments.map((segment) => {
    const at = offset;
    offset += segment.data.length;
    return at;
  });
  const sectionOffsets = allSections.map((section) => {
    const at = offset;
    offset += section.data.length;
    return at;
  });
  offset = (offset + 3) & ~3;
  const shoff = offset;
  const total = shoff + 40 * (allSections.length + 1);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, EM_ARM, true);
  view.setUint32(20, 1, true);
  view.setUint32(24, (segments[0]?.paddr ?? 0) | 1, true);
  view.setUint32(28, phoff, true);
  view.setUint32(32, shoff, true);
  view.setUint16(40, 52, true);
  view.setUint16(42, 32, true);
  view.setUint16(44, segments.length, true);
  view.setUint16(46, 40, true);
  view.setUint16(48, allSections.length + 1, true);
  view.setUint16(50, allSections.length, true);
  segments.forEach((segment, i) => {
    const at = phoff + 32 * i;
    view.setUint32(at, PT_LOAD, true);
    view.setUint32(at + 4, segmentOffsets[i]!, true);
    view.setUint32(at + 8, segment.paddr, true);
    view.setUint32(at + 12, segment.paddr, true);
    view.setUint32(at + 16, segment.data.length, true);
    view.setUint32(at + 20, segment.data.length, true);
    view.setUint32(at + 24, 5, true);
    bytes.set(segment.data, segmentOffsets[i]!);
  });
  allSections.forEach((section, i) => {
    const at = shoff + 40 * (i + 1);
    view.setUint32(at, shstrtab.index[section.name]!, true);
    view.setUint32(at + 4, section.type, true);
    view.setUint32(at + 12, 'addr' in section ? (section.addr ?? 0) : 0, true);
    view.setUint32(at + 16, sectionOffsets[i]!, true);
    view.setUint32(at + 20, section.data.length, true);
    view.setUint32(at + 24, 'link' in section ? (section.link ?? 0) : 0, true);
    view.setUint32(at + 36, 'entsize' in section ? (section.entsize ?? 0) : 0, true);
    bytes.set(section.data, sectionOffsets[i]!);
  });
  return { bytes, view, phoff, shoff, sectionOffsets };
}

const CODE = new Uint8Array([0x00, 0xbf, 0xfe, 0xe7, 0, 0, 0, 0]); // nop; b .

/** A valid image with one segment and a symbol table naming `main` (sections: 1 .text, 2 .symtab, 3 .strtab). */
function goodElf(): Built {
  const names = stringTable(['main', 'helper']);
  return buildElf(
    [{ paddr: 0x08000000, data: CODE }],
    [
      { name: '.text', type: SHT_PROGBITS, data: CODE, addr: 0x08000000 },
      {
        name: '.symtab',
        type: SHT_SYMTAB,
        data: symbolTable([
          { nameIndex: names.index.main!, value: 0x08000001, size: 4 },
          { nameIndex: names.index.helper!, value: 0x08000005, size: 2 },
        ]),
        link: 3,
        entsize: 16,
      },
      { name: '.strtab', type: SHT_STRTAB, data: names.data },
    ],
  );
}

/** The one-line error parseElf throws for `bytes`. */
function refusal(bytes: Uint8Array): string {
  let message = '';
  try {
    parseElf(bytes, 'bad.elf');
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message, 'parseElf accepted the file').not.toBe('');
  expect(message).toMatch(/^bad\.elf: not a loadable ELF32 Arm executable: /);
  expect(message).not.toContain('\n');
  expect(message.length).toBeLessThan(300);
  return message;
}

const SECTION_HEADER = (built: Built, index: number) => built.shoff + 40 * index;

describe('a valid byte-built ELF', () => {
  it('gives its entry, segment, sections and symbols', () => {
    const image = parseElf(goodElf().bytes, 'good.elf');
    expect(image.entry).toBe(0x08000001);
    expect(image.segments).toHaveLength(1);
    expect(image.segments[0]).toMatchObject({ paddr: 0x08000000, fileSize: 8 });
    expect(image.sections.map((section) => section.name)).toEqual(['', '.text', '.symtab', '.strtab', '.shstrtab']);
    expect(image.symbols.map((symbol) => symbol.name)).toEqual(['main', 'helper']);
    expect(symbolize(image, 0x08000002)).toBe('main+0x2');
  });
});

describe('malformed ELFs', () => {
  it('a truncated header', () => {
    expect(refusal(goodElf().bytes.subarray(0, 51))).toMatch(
      /file is 51 bytes, shorter than an ELF32 header \(52 bytes\)/,
    );
    expect(refusal(new Uint8Array(0))).toMatch(/file is 0 bytes/);
  });

  it('ELF64, big-endian, not Arm, not an executable', () => {
    const elf64 = goodElf();
    elf64.bytes[4] = 2;
    expect(refusal(elf64.bytes)).toMatch(/ELF class 2 is not ELFCLASS32/);
    const bigEndian = goodElf();
    bigEndian.bytes[5] = 2;
    expect(refusal(bigEndian.bytes)).toMatch(/data encoding 2 is not little-endian/);
    const x86 = goodElf();
    x86.view.setUint16(18, 3, true);
    expect(refusal(x86.bytes)).toMatch(/machine 3 is not EM_ARM \(40\)/);
    const relocatable = goodElf();
    relocatable.view.setUint16(16, 1, true);
    expect(refusal(relocatable.bytes)).toMatch(/type 1 is not ET_EXEC/);
  });

  it('program headers: none, too small, table or segment past the end, absurd count', () => {
    const none = goodElf();
    none.view.setUint16(44, 0, true);
    expect(refusal(none.bytes)).toMatch(/no program headers/);
    const small = goodElf();
    small.view.setUint16(42, 16, true);
    expect(refusal(small.bytes)).toMatch(/program header entry size 16 is smaller than 32/);
    const tablePast = goodElf();
    tablePast.view.setUint32(28, 0xfffffff0, true);
    expect(refusal(tablePast.bytes)).toMatch(
      /program header table at file offset 4294967280 \(\+32 bytes\) runs past the end of the \d+-byte file/,
    );
    const absurd = goodElf();
    absurd.view.setUint16(44, 0xffff, true);
    expect(refusal(absurd.bytes)).toMatch(
      /program header table at file offset 52 \(\+2097120 bytes\) runs past the end/,
    );
    const segmentPast = goodElf();
    segmentPast.view.setUint32(segmentPast.phoff + 4, 0xfffffff0, true);
    expect(refusal(segmentPast.bytes)).toMatch(/segment 0 at file offset 4294967280 \(\+8 bytes\) runs past the end/);
    const notLoad = goodElf();
    notLoad.view.setUint32(notLoad.phoff, 4, true);
    expect(refusal(notLoad.bytes)).toMatch(/no PT_LOAD segments/);
    const wraps = goodElf();
    wraps.view.setUint32(wraps.phoff + 12, 0xfffffffc, true);
    expect(refusal(wraps.bytes)).toMatch(/segment 0: 8 bytes at 0xfffffffc wrap past 4 GiB/);
    const fileOverMemory = goodElf();
    fileOverMemory.view.setUint32(fileOverMemory.phoff + 20, 4, true);
    expect(refusal(fileOverMemory.bytes)).toMatch(/segment 0: file size 8 exceeds memory size 4/);
  });

  it('section headers: table past the end, absurd count, too small', () => {
    const tablePast = goodElf();
    tablePast.view.setUint32(32, tablePast.bytes.length - 8, true);
    expect(refusal(tablePast.bytes)).toMatch(
      /section header table at file offset \d+ \(\+200 bytes\) runs past the end/,
    );
    const absurd = goodElf();
    absurd.view.setUint16(48, 0xffff, true);
    expect(refusal(absurd.bytes)).toMatch(
      /section header table at file offset \d+ \(\+2621400 bytes\) runs past the end/,
    );
    const small = goodElf();
    small.view.setUint16(46, 20, true);
    expect(refusal(small.bytes)).toMatch(/section header entry size 20 is smaller than 40/);
  });

  it('symbol and string tables: offsets past the end, links and name indexes out of range', () => {
    const symtabPast = goodElf();
    symtabPast.view.setUint32(SECTION_HEADER(symtabPast, 2) + 16, 0x7fffff00, true);
    expect(refusal(symtabPast.bytes)).toMatch(
      /symbol table at file offset 2147483392 \(\+48 bytes\) runs past the end/,
    );
    const strtabPast = goodElf();
    strtabPast.view.setUint32(SECTION_HEADER(strtabPast, 3) + 20, 0x10000000, true);
    expect(refusal(strtabPast.bytes)).toMatch(
      /string table 3 at file offset \d+ \(\+268435456 bytes\) runs past the end/,
    );
    const badLink = goodElf();
    badLink.view.setUint32(SECTION_HEADER(badLink, 2) + 24, 99, true);
    expect(refusal(badLink.bytes)).toMatch(/string table index 99 out of range/);
    const badName = goodElf();
    badName.view.setUint32(badName.sectionOffsets[1]! + 16, 5000, true);
    expect(refusal(badName.bytes)).toMatch(/string index 5000 outside string table 3 \(\d+ bytes\)/);
    const badSectionName = goodElf();
    badSectionName.view.setUint32(SECTION_HEADER(badSectionName, 1), 0xffffffff, true);
    expect(refusal(badSectionName.bytes)).toMatch(/string index 4294967295 outside string table 4/);
  });

  it('symbols pointing into one long unterminated name are refused, not decoded until memory runs out', () => {
    // 60,000 symbols at 8-byte steps into a 1 MiB string table with one NUL at its end: about 30 GB of names.
    const tableBytes = 1 << 20;
    const names = new Uint8Array(tableBytes).fill(0x61);
    names[tableBytes - 1] = 0;
    const symbols = Array.from({ length: 60_000 }, (_, i) => ({ nameIndex: 1 + i * 8, value: 0x08000001 }));
    const built = buildElf(
      [{ paddr: 0x08000000, data: CODE }],
      [
        { name: '.text', type: SHT_PROGBITS, data: CODE, addr: 0x08000000 },
        { name: '.symtab', type: SHT_SYMTAB, data: symbolTable(symbols), link: 3, entsize: 16 },
        { name: '.strtab', type: SHT_STRTAB, data: names },
      ],
    );
    expect(built.bytes.length).toBeLessThan(2 * 1024 * 1024);
    expect(refusal(built.bytes)).toMatch(
      /symbol and section names add up to more than \d+ bytes \(string table 3 is reused by overlapping names\)/,
    );
  });

  it('many symbols sharing one name (mapping symbols, merged strings) decode it once and load', () => {
    const names = stringTable(['$t', 'shared_name']);
    const symbols = Array.from({ length: 50_000 }, (_, i) => ({
      nameIndex: i % 2 === 0 ? names.index.$t! : names.index.shared_name!,
      value: 0x08000001,
    }));
    const built = buildElf(
      [{ paddr: 0x08000000, data: CODE }],
      [
        { name: '.text', type: SHT_PROGBITS, data: CODE, addr: 0x08000000 },
        { name: '.symtab', type: SHT_SYMTAB, data: symbolTable(symbols), link: 3, entsize: 16 },
        { name: '.strtab', type: SHT_STRTAB, data: names.data },
      ],
    );
    const image = parseElf(built.bytes, 'shared.elf');
    expect(image.symbols).toHaveLength(25_000);
    expect(image.symbolByName.get('shared_name')?.value).toBe(0x08000001);
  });
});
