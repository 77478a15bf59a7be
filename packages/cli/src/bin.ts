import { main } from './main';

// `moge … | head`: the reader closing the pipe early ends the command quietly, as Unix tools do,
// instead of an unhandled 'error' event and a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`moge: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
