/** The live dashboard served at `/`. */
export function renderDashboard(): string {
  return "<!doctype html><title>docbatch</title>";
}
