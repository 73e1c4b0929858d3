// An emojivoto-style vote service over HTTP/1.1 and JSON: POST /vote with
// {"vote":"👍"} counts the vote and answers which replica counted it and how
// many votes for that emoji the replica has seen.
//
//   node vote-service.mjs PORT [PORT ...]   one replica per port on 127.0.0.1,
//                                            named vote-1, vote-2, … in order
import http from 'node:http';

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
  console.error('usage: node vote-service.mjs PORT [PORT ...]');
  process.exit(2);
}

function answer(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

ports.forEach((port, i) => {
  const replica = `vote-${i + 1}`;
  const tally = new Map();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/vote') return answer(res, 404, { error: 'POST /vote only', replica });
      let vote;
      try {
        vote = JSON.parse(body).vote;
      } catch {
        vote = undefined;
      }
      if (typeof vote !== 'string' || vote === '') return answer(res, 400, { error: 'expected {"vote":"<emoji>"}', replica });
      tally.set(vote, (tally.get(vote) ?? 0) + 1);
      answer(res, 200, { replica, vote, votes: tally.get(vote) });
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`${replica} listening on 127.0.0.1:${port}`));
});
