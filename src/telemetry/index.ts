export { AdminServer, servicesReadiness, servicesWarnings, type AdminHandler, type Readiness } from './admin-server.js';
export { endpointLogEvents } from './endpoint-log.js';
export { REASON_NAMES, failureReason } from './failure-reason.js';
export { Telemetry, classify, endpointStateName, type TelemetryOptions } from './telemetry.js';
export { WindowStats, Outcome, OUTCOME_NAMES, type WindowSnapshot, type Percentiles } from './window-stats.js';
export { TapHub, matches as tapMatches, type TapEvent, type TapFilter } from './tap.js';
