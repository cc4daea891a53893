/** Counts and sizes as people write them: "1 peer", "2 peers", "1.5 MB" (never "1 peers"). */

export function count (n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

export function size (bytes: number): string {
  if (bytes < 1000) return count(bytes, 'byte')
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = bytes / 1000
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++ }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}
