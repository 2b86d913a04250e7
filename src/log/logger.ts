// Structured JSON logs (pino) for every daemon; one root logger, children per component.
import { pino, type Logger, type Level } from 'pino';

export type { Logger };

export const logLevels: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export function createLogger(level: string = process.env.IRONLB_LOG_LEVEL ?? 'info', component?: string): Logger {
  const chosen = (logLevels as readonly string[]).includes(level) ? level : 'info';
  const root = pino({ level: chosen, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
  return component ? root.child({ component }) : root;
}

/** A logger that drops everything, for tests that do not assert on logs. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
