// Source file and line of code addresses, from the ELF's DWARF line tables (.debug_line, versions 2 to 5),
// for the few addresses a report names (the peak sites). Read once per report, only when asked; any table this
// reader does not understand gives no lines rather than an error, since file:line is an extra of the report.
import type { ElfImage } from './elf.js';

export interface SourceLine {
  file: string;
  line: number;
}

const DW_LNS_COPY = 1;
const DW_LNS_ADVANCE_PC = 2;
const DW_LNS_ADVANCE_LINE = 3;
const DW_LNS_SET_FILE = 4;
const DW_LNS_CONST_ADD_PC = 8;
const DW_LNS_FIXED_ADVANCE_PC = 9;
const DW_LNE_END_SEQUENCE = 1;
const DW_LNE_SET_ADDRESS = 2;
const DW_LNE_DEFINE_FILE = 3;
const DW_LNCT_PATH = 1;
const DW_LNCT_DIRECTORY_INDEX = 2;

/** A little-endian cursor over one section; reading past its end throws (caught by sourceLines). */
class Reader {
  offset: number;
  constructor(
    readonly view: DataView,
    offset = 0,
  ) {
    this.offset = offset;
  }

  u8(): number {
    return this.view.getUint8(this.offset++);
  }
  u16(): number {
    const value = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }
  u32(): number {
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  /** An address or offset of `size` bytes (above 2^53 cannot be a Cortex-M address: refused). */
  sized(size: number): number {
    if (size === 1) return this.u8();
    if (size === 2) return this.u16();
    if (size === 4) return this.u32();
    if (size === 8) {
      const low = this.u32();
      const high = this.u32();
      if (high > 0x1fffff) throw new Error('offset beyond 2^53');
      return high * 2 ** 32 + low;
    }
    throw new Error(`unsupported size ${size}`);
  }

  uleb(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
      if (scale > 2 ** 56) throw new Error('LEB128 too long');
    }
  }

  sleb(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return (byte & 0x40) !== 0 ? result - scale : result;
      if (scale > 2 ** 56) throw new Error('LEB128 too long');
    }
  }

  cString(): string {
    const start = this.offset;
    while (this.view.getUint8(this.offset) !== 0) this.offset++;
    const bytes = new Uint8Array(this.view.buffer, this.view.byteOffset + start, this.offset - start);
    this.offset++;
    return new TextDecoder().decode(bytes);
  }
}

const SHF_COMPRESSED = 0x800;

function sectionView(elf: Uint8Array, image: ElfImage, name: string): DataView | null {
  const section = image.sections.find((candidate) => candidate.name === name);
  // A compressed section (-gz) would be read as garbage: left out, as if there were no table.
  if (!section || (section.flags & SHF_COMPRESSED) !== 0 || section.offset + section.size > elf.length) return null;
  return new DataView(elf.buffer, elf.byteOffset + section.offset, section.size);
}

function stringAt(view: DataView | null, offset: number): string {
  if (!view) throw new Error('string section missing');
  return new Reader(view, offset).cString();
}

/** One attribute of a DWARF 5 directory or file entry, in its form: a string, a number, or null when skipped. */
function readForm(
  reader: Reader,
  form: number,
  offsetSize: number,
  strings: DataView | null,
  lineStrings: DataView | null,
): string | number | null {
  switch (form) {
    case 0x08:
      return reader.cString(); // DW_FORM_string
    case 0x1f:
      return stringAt(lineStrings, reader.sized(offsetSize)); // DW_FORM_line_strp
    case 0x0e:
      return stringAt(strings, reader.sized(offsetSize)); // DW_FORM_strp
    case 0x0b:
      return reader.u8(); // DW_FORM_data1
    case 0x05:
      return reader.u16(); // DW_FORM_data2
    case 0x06:
      return reader.u32(); // DW_FORM_data4
    case 0x07:
      return reader.sized(8); // DW_FORM_data8
    case 0x0f:
      return reader.uleb(); // DW_FORM_udata
    case 0x1e:
      reader.offset += 16;
      return null; // DW_FORM_data16 (MD5)
    case 0x09:
      reader.offset += reader.uleb();
      return null; // DW_FORM_block
    default:
      throw new Error(`unsupported form 0x${form.toString(16)}`);
  }
}

/** Reads a DWARF 5 entry-format table and its entries (directories or files). */
function readEntries(
  reader: Reader,
  offsetSize: number,
  strings: DataView | null,
  lineStrings: DataView | null,
): { path: string; directory: number }[] {
  const formatCount = reader.u8();
  const formats: [number, number][] = [];
  for (let i = 0; i < formatCount; i++) formats.push([reader.uleb(), reader.uleb()]);
  const count = reader.uleb();
  const entries: { path: string; directory: number }[] = [];
  for (let i = 0; i < count; i++) {
    const entry = { path: '', directory: 0 };
    for (const [content, form] of formats) {
      const value = readForm(reader, form, offsetSize, strings, lineStrings);
      if (content === DW_LNCT_PATH && typeof value === 'string') entry.path = value;
      else if (content === DW_LNCT_DIRECTORY_INDEX && typeof value === 'number') entry.directory = value;
    }
    entries.push(entry);
  }
  return entries;
}

/**
 * The file name as the compiler gave it, under its directory unless that is the compilation directory (index
 * 0, an absolute path on the build machine that says nothing to anyone else).
 */
function joinPath(directories: string[], path: string, directory: number): string {
  const dir = directory > 0 ? directories[directory] : undefined;
  return dir && !path.startsWith('/') ? `${dir}/${path}` : path;
}

/**
 * file:line of the code at each of `addresses` (code addresses, Thumb bit cleared), for those a line table
 * covers. Lines of a row cover the addresses up to the next row of the same sequence.
 */
export function sourceLines(elf: Uint8Array, image: ElfImage, addresses: readonly number[]): Map<number, SourceLine> {
  const found = new Map<number, SourceLine>();
  const lines = sectionView(elf, image, '.debug_line');
  if (!lines || addresses.length === 0) return found;
  const targets = [...new Set(addresses)].sort((a, b) => a - b);
  try {
    readUnits(lines, sectionView(elf, image, '.debug_str'), sectionView(elf, image, '.debug_line_str'), targets, found);
  } catch {
    // A table this reader cannot follow: the lines found before it stand, the rest are left out.
  }
  return found;
}

function readUnits(
  lines: DataView,
  strings: DataView | null,
  lineStrings: DataView | null,
  targets: number[],
  found: Map<number, SourceLine>,
): void {
  const reader = new Reader(lines);
  while (reader.offset < lines.byteLength && found.size < targets.length) {
    let offsetSize = 4;
    let unitLength = reader.u32();
    if (unitLength === 0xffffffff) {
      offsetSize = 8;
      unitLength = reader.sized(8);
    }
    const unitEnd = reader.offset + unitLength;
    if (unitEnd > lines.byteLength) throw new Error('line table past the section');
    const version = reader.u16();
    if (version < 2 || version > 5) {
      reader.offset = unitEnd;
      continue;
    }
    let addressSize = 4;
    if (version >= 5) {
      addressSize = reader.u8();
      reader.u8(); // segment selector size
    }
    const headerLength = reader.sized(offsetSize);
    const programStart = reader.offset + headerLength;
    const minimumInstructionLength = reader.u8();
    if (version >= 4) reader.u8(); // maximum operations per instruction: 1 on Arm
    const defaultIsStatement = reader.u8();
    void defaultIsStatement;
    const lineBase = (reader.u8() << 24) >> 24;
    const lineRange = reader.u8();
    const opcodeBase = reader.u8();
    if (lineRange === 0) throw new Error('line_range 0');
    const operandCounts = [0];
    for (let i = 1; i < opcodeBase; i++) operandCounts.push(reader.u8());
    let directories: string[];
    let files: { path: string; directory: number }[];
    if (version >= 5) {
      directories = readEntries(reader, offsetSize, strings, lineStrings).map((entry) => entry.path);
      files = readEntries(reader, offsetSize, strings, lineStrings);
    } else {
      // Before DWARF 5 directory 0 and file 0 are implicit (the compilation's): indices start at 1.
      directories = [''];
      for (let dir = reader.cString(); dir !== ''; dir = reader.cString()) directories.push(dir);
      files = [{ path: '', directory: 0 }];
      for (let path = reader.cString(); path !== ''; path = reader.cString()) {
        files.push({ path, directory: reader.uleb() });
        reader.uleb();
        reader.uleb();
      }
    }
    reader.offset = programStart;
    const header = { addressSize, minimumInstructionLength, lineBase, lineRange, opcodeBase, operandCounts };
    const fileName = (file: number) => {
      const entry = files[file];
      return entry ? joinPath(directories, entry.path, entry.directory) : '';
    };
    runProgram(reader, unitEnd, header, fileName, targets, found);
    reader.offset = unitEnd;
  }
}

interface ProgramHeader {
  addressSize: number;
  minimumInstructionLength: number;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  operandCounts: number[];
}

/** Runs one unit's line-number program; each row's line covers the targets up to the next row's address. */
function runProgram(
  reader: Reader,
  end: number,
  header: ProgramHeader,
  fileName: (file: number) => string,
  targets: number[],
  found: Map<number, SourceLine>,
): void {
  let address = 0;
  let file = 1;
  let line = 1;
  // The previous row of the current sequence (-1: none yet).
  let rowAddress = -1;
  let rowFile = 1;
  let rowLine = 1;
  const emit = (endSequence: boolean) => {
    if (rowAddress >= 0 && address > rowAddress) {
      // Targets in [rowAddress, address): the first at or above rowAddress, by binary search.
      let low = 0;
      let high = targets.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (targets[middle]! < rowAddress) low = middle + 1;
        else high = middle;
      }
      for (let i = low; i < targets.length && targets[i]! < address; i++) {
        if (!found.has(targets[i]!)) found.set(targets[i]!, { file: fileName(rowFile), line: rowLine });
      }
    }
    if (endSequence) {
      rowAddress = -1;
      address = 0;
      file = 1;
      line = 1;
    } else {
      rowAddress = address;
      rowFile = file;
      rowLine = line;
    }
  };
  const { minimumInstructionLength, lineBase, lineRange, opcodeBase, operandCounts } = header;
  while (reader.offset < end) {
    const opcode = reader.u8();
    if (opcode >= opcodeBase) {
      const adjusted = opcode - opcodeBase;
      address += Math.floor(adjusted / lineRange) * minimumInstructionLength;
      line += lineBase + (adjusted % lineRange);
      emit(false);
    } else if (opcode === 0) {
      const length = reader.uleb();
      const next = reader.offset + length;
      const extended = length > 0 ? reader.u8() : -1;
      if (extended === DW_LNE_END_SEQUENCE) emit(true);
      else if (extended === DW_LNE_SET_ADDRESS) address = reader.sized(Math.min(header.addressSize, length - 1));
      else if (extended === DW_LNE_DEFINE_FILE) throw new Error('DW_LNE_define_file');
      reader.offset = next;
    } else if (opcode === DW_LNS_COPY) emit(false);
    else if (opcode === DW_LNS_ADVANCE_PC) address += reader.uleb() * minimumInstructionLength;
    else if (opcode === DW_LNS_ADVANCE_LINE) line += reader.sleb();
    else if (opcode === DW_LNS_SET_FILE) file = reader.uleb();
    else if (opcode === DW_LNS_CONST_ADD_PC) {
      address += Math.floor((255 - opcodeBase) / lineRange) * minimumInstructionLength;
    } else if (opcode === DW_LNS_FIXED_ADVANCE_PC) address += reader.u16();
    else for (let i = 0; i < operandCounts[opcode]!; i++) reader.uleb(); // set_column, set_isa, and unknown ones
  }
}
