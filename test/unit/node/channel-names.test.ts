/**
 * GET /channels a page at a time (src/node/channel-names.ts): each node answers with the
 * first `limit` names of one app's channels after the cursor; the asker merges them up to
 * where every node's list still reaches. A review found every node sending every channel
 * of every app for each request (20,000 channels: 440 ms a request).
 */
import { describe, expect, it } from 'vitest';
import { mergeNames, namesPage } from '../../../src/node/channel-names.js';
import type { MasteredChannel, ReplyBody } from '../../../src/transport/messages.js';

const q = { appId: 'app', prefix: 'ch-', limit: 3 };

describe("a node's page of channel names", () => {
  it("gives only the app's names with the prefix, after the cursor, the first `limit` by name", () => {
    const keys = ['app:ch-d', 'other:ch-a', 'app:ch-b', 'app:x-a', 'app:ch-a', 'app:ch-c', 'app:ch-e', 'app:ch-a:sub'];
    expect(namesPage(keys, q)).toEqual(['ch-a', 'ch-a:sub', 'ch-b']);
    expect(namesPage(keys, { ...q, after: 'ch-b' })).toEqual(['ch-c', 'ch-d', 'ch-e']);
    expect(namesPage(keys, { ...q, after: 'ch-e' })).toEqual([]);
    expect(namesPage(keys, { ...q, appId: 'other' })).toEqual(['ch-a']);
  });
});

describe("the region's page", () => {
  const names = (...n: string[]): ReplyBody => ({ kind: 'channelNames', names: n });

  it('merges up to the least last name of the nodes that gave a full list: past it, one of them may have more', () => {
    expect(mergeNames([names('ch-a', 'ch-c', 'ch-e'), names('ch-b', 'ch-d', 'ch-f')], q)).toEqual({ names: ['ch-a', 'ch-b', 'ch-c', 'ch-d', 'ch-e'], more: true });
    expect(mergeNames([names('ch-a', 'ch-c'), names('ch-b')], q)).toEqual({ names: ['ch-a', 'ch-b', 'ch-c'], more: false });
    // A node that did not answer in time counts as nothing.
    expect(mergeNames([null, names('ch-b')], q)).toEqual({ names: ['ch-b'], more: false });
    // The same channel from two nodes (one handing it to the other) once.
    expect(mergeNames([names('ch-a'), names('ch-a', 'ch-b')], q)).toEqual({ names: ['ch-a', 'ch-b'], more: false });
  });

  it("takes a build before it's answer, every channel it masters, as that node's page", () => {
    const m = (channel: string): MasteredChannel => ({ channel, on: false, since: 0, remote: [] });
    const old: ReplyBody = { kind: 'interest', mastered: ['other:ch-0', 'app:ch-z', 'app:ch-c', 'app:ch-a', 'app:ch-b', 'app:zz'].map(m) };
    expect(mergeNames([old, names('ch-bb')], q)).toEqual({ names: ['ch-a', 'ch-b', 'ch-bb', 'ch-c'], more: true });
    expect(mergeNames([old], { ...q, after: 'ch-c' })).toEqual({ names: ['ch-z'], more: false });
  });
});
