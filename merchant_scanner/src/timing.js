// How fast the counter is, in the browser's own User Timing entries (performance.measure), so
// DevTools, a field report and the end-to-end test all read the same numbers with no hook of
// our own on window. Each entry's `detail` carries the marks in performance.now() time.

export const SCAN = 'scanner:scan';
export const REDEMPTION = 'scanner:redemption';

function measure(name, start, end, detail) {
  try {
    performance.measure(name, { start, end, detail });
  } catch { /* a WebView without User Timing Level 3: nothing to record, nothing breaks */ }
}

/**
 * A verdict was just put on screen: record when it is painted (the frame after the DOM change).
 * `t` holds frame_ts (capture of the frame with the code), detected_ts and verified_ts.
 */
export function recordScan(t, ok, code) {
  requestAnimationFrame(() => {
    const verdictTs = performance.now();
    measure(SCAN, t.frame_ts, verdictTs, {
      ...t, verdict_ts: verdictTs, ok, code, frame_to_verdict_ms: Math.round(verdictTs - t.frame_ts),
      detect_to_verdict_ms: Math.round(verdictTs - t.detected_ts),
    });
  });
}

/** From the tap on "confirm" to the outcome (recorded, queued or refused) being known. */
export function recordRedemption(clientId, confirmTs, state) {
  const recordedTs = performance.now();
  measure(REDEMPTION, confirmTs, recordedTs, {
    client_id: clientId, state, confirm_ts: confirmTs, recorded_ts: recordedTs,
    confirm_to_recorded_ms: Math.round(recordedTs - confirmTs),
  });
}
