// A static server for the example: this folder at /, its node_modules at /node_modules, a model
// folder (what 'edgedigits export' wrote for one model) at /model, and the package's
// preprocessing contract (edgedigits/preprocess/from_image.mjs) at /preprocess.
//   node serve.mjs exports/seed004_cnn [port]
import {createServer} from 'node:http';
import {readFile, stat} from 'node:fs/promises';
import {extname, join, normalize, resolve, sep} from 'node:path';
import {fileURLToPath} from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
// The preprocessing contract's JavaScript, from the package (edgedigits/preprocess/from_image.mjs)
const PREPROCESS = resolve(HERE, '..', '..', 'edgedigits', 'preprocess');
const TYPES = {'.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
               '.json': 'application/json', '.wasm': 'application/wasm'};

export function serve(modelFolder, port = 0) {
  const roots = [['/model/', resolve(modelFolder)], ['/preprocess/', PREPROCESS],
                 ['/', resolve(HERE)]];
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    const [prefix, root] = roots.find(([p]) => path.startsWith(p));
    const file = normalize(join(root, path.slice(prefix.length) || 'index.html'));
    if (!file.startsWith(root + sep) && file !== root) {
      response.writeHead(403).end();
      return;
    }
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      response.writeHead(200, {'Content-Type': TYPES[extname(file)] || 'application/octet-stream'});
      response.end(await readFile(file));
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((done) => server.listen(port, '127.0.0.1', () => done(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve(process.argv[2] || '.', Number(process.argv[3] || 8080));
  console.log(`http://127.0.0.1:${server.address().port}/?model=/model`);
}
