import { type FrontRangeName, frontRanges, type TileRange } from '../../lib/tiles.tsx'

const HOUR = 3_600_000
const MINUTE = 60_000

/**
 * The range ending at `at`. Its start falls on a whole hour (24 h, 7 d) or minute (1 h), so the
 * tiles' aggregates read rollups rather than raw points.
 */
export function rangeOf(name: FrontRangeName, at: number): TileRange {
  const ms = frontRanges[name]
  const align = ms >= 24 * HOUR ? HOUR : MINUTE
  return { name, ms, from: Math.floor((at - ms) / align) * align, to: at }
}
