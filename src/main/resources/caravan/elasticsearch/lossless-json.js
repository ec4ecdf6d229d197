// Caravan: makes elasticdump keep every number exactly. Loaded with NODE_OPTIONS="--require <this file>"
// into multielasticdump and the elasticdump children it forks (they inherit the environment).
//
// Why hand-written: elasticdump 6.125.1 parses with JSON.parse (doubles). Its --support-big-int is not
// enough: on dump it turns digit strings above 2^53 into numbers and 15.0 into 15; on load its file reader
// (JSONStream) still parses doubles, so negative integers below -2^53 and long decimals change.
// This replaces elasticdump's lib/jsonparser.js with lossless-json (elasticdump's own dependency) keeping
// every number whose text a double would not reproduce as a LosslessNumber (written back verbatim), and the
// file reader's JSONStream with one lossless JSON value per line (the format elasticdump writes).
'use strict'
const Module = require('module')
const path = require('path')
const { Transform } = require('stream')
const { StringDecoder } = require('string_decoder')

const originalLoad = Module._load
let lossless = null
let parser = null
let hookedJsonParser = false

function losslessJson (from) {
  if (!lossless) {
    lossless = Module.createRequire(from)('lossless-json')
  }
  return lossless
}

function reviver (key, value) {
  if (value && value.isLosslessNumber) {
    const n = Number(value.value)
    return String(n) === value.value ? n : value // counts, sizes, statuses stay plain numbers
  }
  return value
}

function makeParser (from) {
  const LJ = losslessJson(from)
  const parse = (str) => {
    try {
      return LJ.parse(str, reviver)
    } catch (e) {
      throw new Error(`failed to parse json (message: "${e.message}") - source: ${JSON.stringify(str)}`)
    }
  }
  return { parse, stringify: (json) => LJ.stringify(json) }
}

// JSONStream.parse() for a file of one JSON value per line
function lineParser (jsonParser) {
  let rest = ''
  const utf8 = new StringDecoder('utf8') // a character split between two chunks stays whole
  const push = (stream, line) => {
    if (line.trim() !== '') {
      stream.push(jsonParser.parse(line))
    }
  }
  return new Transform({
    readableObjectMode: true,
    transform (chunk, enc, done) {
      const lines = (rest + utf8.write(chunk)).split('\n')
      rest = lines.pop()
      try {
        lines.forEach(l => push(this, l))
        done()
      } catch (e) {
        done(e)
      }
    },
    flush (done) {
      try {
        push(this, rest + utf8.end())
        done()
      } catch (e) {
        done(e)
      }
    }
  })
}

Module._load = function (request, parent, isMain) {
  if (parent && parent.filename && parent.filename.includes(`${path.sep}elasticdump${path.sep}`)) {
    if (request.endsWith('jsonparser.js') || request.endsWith('jsonparser')) {
      const resolved = Module._resolveFilename(request, parent, isMain)
      if (resolved.endsWith(path.join('elasticdump', 'lib', 'jsonparser.js'))) {
        parser = parser || makeParser(resolved)
        hookedJsonParser = true
        return parser
      }
    }
    if (request === 'JSONStream' && parent.filename.endsWith(path.join('transports', 'file.js'))) {
      const original = originalLoad.apply(this, arguments)
      parser = parser || makeParser(parent.filename)
      return Object.assign({}, original, { parse: () => lineParser(parser) })
    }
  }
  return originalLoad.apply(this, arguments)
}

// An elasticdump that no longer loads lib/jsonparser.js (a release Caravan does not know) would dump and load
// through doubles again: it fails instead of exiting 0.
if (path.basename(process.argv[1] || '') === 'elasticdump') {
  process.on('exit', (code) => {
    if (code === 0 && !hookedJsonParser) {
      process.stderr.write('caravan lossless-json.js: elasticdump did not load lib/jsonparser.js, so its numbers ' +
        'would not be exact; use the elasticdump version Caravan is tested with\n')
      process.exitCode = 70
    }
  })
}
