export { AdminServer, type AdminHandler } from './admin-server.js';
export { Telemetry, classify, endpointStateName, type TelemetryOptions } from './telemetry.js';
export { WindowStats, Outcome, OUTCOME_NAMES, type WindowSnapshot, type Percentiles } from './window-stats.js';
export { TapHub, matches as tapMatches, type TapEvent, type TapFilter } from './tap.js';
