// How every ironlb command ends when it fails: one line on stderr naming the problem, exit status 1.
export function exitOnFailure(run: Promise<void>): void {
  run.catch((err: unknown) => {
    console.error(`ironlb: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
