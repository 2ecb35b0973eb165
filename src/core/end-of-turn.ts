/**
 * A call of `run` at the end of the current turn of the event loop, however many times it is asked
 * for during the turn: what a turn gathers (texts to send, hashes to look up) goes out together.
 */
export function atEndOfTurn(run: () => void): () => void {
  let asked = false;
  return () => {
    if (asked) return;
    asked = true;
    setImmediate(() => {
      asked = false;
      run();
    });
  };
}
