// Real SDKs against the edge: @segment/analytics-node (Basic auth, plain
// JSON batches) and @rudderstack/rudder-sdk-node (gzipped batches,
// form-encoded Content-Type), each sending track, identify, page, screen,
// group and alias with nothing changed but the host.
//
//   node tests/sdk/sdk-check.mjs http://127.0.0.1:8080 wk_local_example \
//        build/run/logs/kochava-sink.jsonl
//
// Exits 0 when the sink received every call of both SDKs.

import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';

const require = createRequire(process.env.SDK_DIR
    ? process.env.SDK_DIR + '/package.json' : import.meta.url);

const [host, writeKey, sinkPath] = process.argv.slice(2);

const context = (id) => ({
    device: {
        id: `sdk-device-${id}`,
        advertisingId: '38400000-8cf0-11bd-b23e-10b96e40000d',
        adTrackingEnabled: true,
        type: 'android',
        model: 'Pixel 8',
    },
    os: { name: 'Android', version: '14' },
    app: { version: '3.0.0' },
});

function calls(sdk, tag) {
    const ctx = context(tag);
    const user = `sdk-user-${tag}`;

    sdk.track({ userId: user, event: `SDK Track ${tag}`,
                properties: { revenue: 1.5 }, context: ctx });
    sdk.identify({ userId: user, traits: { plan: tag }, context: ctx });
    sdk.page({ userId: user, name: `SDK Page ${tag}`, context: ctx });
    sdk.screen({ userId: user, name: `SDK Screen ${tag}`, context: ctx });
    sdk.group({ userId: user, groupId: `sdk-group-${tag}`,
                traits: { name: 'Acme' }, context: ctx });
    sdk.alias({ userId: user, previousId: `sdk-anon-${tag}`, context: ctx });
}

function sinkLines() {
    if (!existsSync(sinkPath)) {
        return [];
    }

    return readFileSync(sinkPath, 'utf8').trim().split('\n')
        .filter(Boolean).map((l) => JSON.parse(l));
}

const before = sinkLines().length;

// Segment's own Node library
const { Analytics } = require('@segment/analytics-node');
const segment = new Analytics({ writeKey, host, flushAt: 6 });
let segmentErrors = 0;
segment.on('error', (e) => { segmentErrors++; console.error('segment:', e); });
calls(segment, 'segment');
await segment.closeAndFlush({ timeout: 10000 });

// a Segment-compatible library that gzips its batches
const Rudder = require('@rudderstack/rudder-sdk-node');
const rudder = new Rudder(writeKey, { dataPlaneUrl: host, flushAt: 6,
                                      gzip: true, retryCount: 0 });
calls(rudder, 'rudder');
await new Promise((done) => rudder.flush(done));

await new Promise((done) => setTimeout(done, 500));

const got = sinkLines().slice(before);
let failed = segmentErrors;

for (const tag of ['segment', 'rudder']) {
    const events = got.filter((l) => l.uri === '/track/json'
        && l.body.kochava_device_id === `sdk-device-${tag}`)
        .map((l) => l.body.data.event_name).sort();
    const links = got.filter((l) => l.uri === '/v1/cpi/identityLink.php'
        && l.body.data.user_id === `sdk-user-${tag}`);

    const want = [`SDK Track ${tag}`, `Viewed SDK Page ${tag} Page`,
                  `Viewed SDK Screen ${tag} Screen`, 'Group'].sort();
    const ok = JSON.stringify(events) === JSON.stringify(want)
        && links.length === 2;

    console.log(`${ok ? 'ok' : 'not ok'} - ${tag}: events ${
        JSON.stringify(events)}, identity links ${links.length}`);

    if (!ok) {
        failed++;
    }
}

process.exit(failed ? 1 : 0);
