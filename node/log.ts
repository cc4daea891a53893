/**
 * One logger, passed in (never global), so many nodes can run in one process. Components
 * take `logger.forComponent('name')`. Rule for every caller: no key, passphrase, phrase,
 * token or plaintext is ever passed to a logger.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export interface ComponentLogger {
  debug: (message: string, fields?: Record<string, unknown>) => void
  info: (message: string, fields?: Record<string, unknown>) => void
  warn: (message: string, fields?: Record<string, unknown>) => void
  error: (message: string, fields?: Record<string, unknown>) => void
}

export interface Logger {
  forComponent: (name: string) => ComponentLogger
}

export interface LogRecord {
  time: number
  level: Exclude<LogLevel, 'silent'>
  component: string
  message: string
  fields?: Record<string, unknown>
}

export type LogSink = (record: LogRecord) => void

/** Writes one line per record to stderr; the default sink of the CLI and the daemon. */
export const stderrSink: LogSink = (r) => {
  const fields = r.fields === undefined ? '' : ' ' + JSON.stringify(r.fields)
  process.stderr.write(`${new Date(r.time).toISOString()} ${r.level} ${r.component}: ${r.message}${fields}\n`)
}

export function createLogger (options: { level?: LogLevel, sink?: LogSink } = {}): Logger {
  const threshold = RANK[options.level ?? 'info']
  const sink = options.sink ?? stderrSink
  return {
    forComponent (component) {
      const at = (level: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
        if (RANK[level] < threshold) return
        sink({ time: Date.now(), level, component, message, fields })
      }
      return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
    }
  }
}

/** For tests and library callers that do not care. */
export const silentLogger: Logger = createLogger({ level: 'silent' })
