// The rear camera and the continuous QR loop. One frame is decoded at a time (a cheap phone
// cannot keep up with 30 fps and should not try); when a code is read the loop pauses until the
// app resumes it, and the camera stays on so the next customer is read at once.

export class CameraScanner {
  constructor(video, { getDetector, onResult }) {
    this.video = video;
    this.getDetector = getDetector;
    this.onResult = onResult;
    this.stream = null;
    this.track = null;
    this.paused = false;
    this.busy = false;
    this.running = false;
    this.detectorKind = '';
  }

  static available() {
    return Boolean(globalThis.navigator && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  async start() {
    if (this.running) { this.paused = false; return; }
    const [{ detector, kind }, stream] = await Promise.all([
      this.getDetector(),
      navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      }),
    ]);
    this.detector = detector;
    this.detectorKind = kind;
    this.stream = stream;
    this.track = stream.getVideoTracks()[0];
    this.video.srcObject = stream;
    this.video.setAttribute('playsinline', ''); // iOS and WeChat: no full-screen takeover
    this.video.muted = true;
    await this.video.play();
    this.running = true;
    this.paused = false;
    this.loop();
  }

  stop() {
    this.running = false;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.track = null;
    this.video.srcObject = null;
  }

  pause() { this.paused = true; }

  resume() { this.paused = false; }

  torchSupported() {
    try {
      return Boolean(this.track && this.track.getCapabilities && this.track.getCapabilities().torch);
    } catch { return false; }
  }

  async setTorch(on) {
    await this.track.applyConstraints({ advanced: [{ torch: on }] });
  }

  loop() {
    if (!this.running) return;
    const next = () => this.loop();
    if (typeof this.video.requestVideoFrameCallback === 'function') {
      this.video.requestVideoFrameCallback((now, meta) => { this.tick(...frameTime(now, meta)); next(); });
    } else {
      setTimeout(() => { this.tick(performance.now(), 'timer'); next(); }, 80);
    }
  }

  async tick(frameTs, frameSource) {
    if (this.paused || this.busy || this.video.readyState < 2) return;
    this.busy = true;
    try {
      const codes = await this.detector.detect(this.video);
      const hit = codes.find((c) => c.rawValue);
      if (hit && !this.paused && this.running) {
        this.paused = true;
        this.onResult(hit.rawValue, { frameTs, frameSource, detectedTs: performance.now() });
      }
    } catch {
      // A frame the decoder could not take (size change, not ready): the next one will do.
    } finally {
      this.busy = false;
    }
  }
}

/** When the frame was captured, in performance.now() time, as well as the browser can tell. */
function frameTime(now, meta) {
  if (meta && typeof meta.captureTime === 'number' && meta.captureTime > 0) return [meta.captureTime, 'captureTime'];
  if (meta && typeof meta.presentationTime === 'number' && meta.presentationTime > 0) {
    return [meta.presentationTime, 'presentationTime'];
  }
  return [now, 'callback'];
}
