// Imported by the CSP test into a page or a worker (`import(url)` from a DevTools evaluation), so that what it
// tries runs as that realm's own code: Chromium exempts a DevTools evaluation itself from CSP's eval checks.
// Tries eval, new Function and a fetch to the origin named by ?foreign=; exports what each gave and the
// directives of the CSP violations the realm reported meanwhile.
const foreign = new URL(import.meta.url).searchParams.get('foreign');
const violations = [];
const onViolation = (event) => violations.push(event.effectiveDirective);
self.addEventListener('securitypolicyviolation', onViolation);
const describe = (e) => `${e && e.name}: ${e && e.message}`;
const result = { eval: '', newFunction: '', fetch: '', violations };
try {
  result.eval = `ran: ${globalThis.eval('1 + 1')}`;
} catch (e) {
  result.eval = describe(e);
}
try {
  result.newFunction = `ran: ${new Function('return 1 + 1')()}`;
} catch (e) {
  result.newFunction = describe(e);
}
try {
  const response = await fetch(foreign, { cache: 'no-store' });
  result.fetch = `ran: HTTP ${response.status} ${await response.text()}`;
} catch (e) {
  result.fetch = describe(e);
}
// Violation events are queued as tasks: let them arrive.
await new Promise((resolve) => setTimeout(resolve, 200));
self.removeEventListener('securitypolicyviolation', onViolation);
export default result;
