// Address ranges the machine maps for itself, whatever the board: a board's flash or RAM bank must not
// overlap them (Unicorn would refuse the second mapping with UC_ERR_MAP, naming neither). The machine and
// the board-file validation both take the addresses from here.

/** The page whose addresses the firmware's heap calls branch to (docs/design.md section 3). */
export const SERVICE_PAGE = 0x9fff_f000;
export const SERVICE_PAGE_SIZE = 0x1000;

/** The System Control Space page the machine maps (CPACR, VTOR, ...); it lies inside the PPB below. */
export const SCS_BASE = 0xe000_e000;
export const SCS_SIZE = 0x1000;

/**
 * The Armv7-M/Armv8-M Private Peripheral Bus (ITM, DWT, FPB, SCS, ...). Only the SCS page is mapped today,
 * but no Cortex-M part has memory anywhere in the PPB, so a bank there is a mistake in the board file.
 */
export const PPB_BASE = 0xe000_0000;
export const PPB_SIZE = 0x10_0000;

export interface ReservedRegion {
  name: string;
  base: number;
  size: number;
}

export const RESERVED_REGIONS: readonly ReservedRegion[] = [
  { name: 'the heap service page', base: SERVICE_PAGE, size: SERVICE_PAGE_SIZE },
  { name: 'the Private Peripheral Bus (System Control Space)', base: PPB_BASE, size: PPB_SIZE },
];
