import { describe, expect, it } from 'vitest';
import { annotationToWire, buildAnnotations, summaryToWire, type AnnotationBuild } from '../../../src/protocol/annotation.js';
import { MessageAction } from '../../../src/protocol/message.js';
import { codeOf } from '../../helpers/errors.js';

const S = '01700000000000-11@eu:e';
const o: AnnotationBuild = { maxMessageSize: 200, clientId: 'alice', idBase: 'conn:7', connectionId: 'conn', now: 5 };

describe('buildAnnotations', () => {
  it('makes each an annotation message of the serial it names, with the publisher as clientId and an id of its own', () => {
    const [x, y] = buildAnnotations([{ messageSerial: S, type: 'r:distinct.v1', name: 'up', data: { a: 1 } }, { messageSerial: S, type: 'c:multiple.v1', name: 'n', count: 3, action: 1, id: 'mine' }], o);
    expect(x).toEqual({ id: 'conn:7:0', timestamp: 5, serial: S, action: MessageAction.ANNOTATION, annotation: { action: 0, type: 'r:distinct.v1' }, name: 'up', clientId: 'alice', connectionId: 'conn', data: '{"a":1}', encoding: 'json' });
    expect(y).toMatchObject({ id: 'mine', annotation: { action: 1, type: 'c:multiple.v1', count: 3 } });
    // REST: one object, the path's serial.
    expect(buildAnnotations({ type: 'v:total.v1' }, { ...o, messageSerial: S })[0]!.serial).toBe(S);
  });

  it('refuses what is not an annotation this service can sum up', () => {
    const one = (w: Record<string, unknown>, opts: Partial<AnnotationBuild> = {}) => codeOf(() => buildAnnotations([{ messageSerial: S, ...w }], { ...o, ...opts }));
    expect(one({ type: 'r:distinct.v1', name: 'n', action: 2 })).toBe(40000);
    expect(one({ type: 'r:distinct.v1', name: 'n', messageSerial: 'not-a-serial' })).toBe(40003);
    expect(one({ name: 'n' })).toBe(40003);
    expect(one({ type: '', name: 'n' })).toBe(40003);
    expect(one({ type: 'r:distinct.v2', name: 'n' })).toBe(40003);
    expect(one({ type: 'distinct.v1', name: 'n' })).toBe(40003);
    // Keys of every summary after them: bounded, and well-formed (kept as UTF-8).
    expect(one({ type: `${'r'.repeat(250)}:distinct.v1`, name: 'n' })).toBe(40003);
    expect(one({ type: 'r:distinct.v1', name: 'n'.repeat(257) })).toBe(40003);
    expect(one({ type: 'r:distinct.v1', name: '\uD800' })).toBe(40003);
    expect(one({ type: '\uD800:distinct.v1', name: 'n' })).toBe(40003);
    expect(one({ type: 'r:total.v1', clientId: '\uDC00' }, { clientId: '*' })).toBe(40012);
    expect(one({ type: ':distinct.v1', name: 'n' })).toBe(40003);
    expect(one({ type: 'r:distinct.v1' })).toBe(40003);
    expect(one({ type: 'r:multiple.v1', name: 'n', count: 1.5 })).toBe(40003);
    expect(one({ type: 'r:multiple.v1', name: 'n', count: -1 })).toBe(40003);
    expect(one({ type: 'r:flag.v1', clientId: 'bob' })).toBe(40012);
    expect(one({ type: 'r:flag.v1' }, { clientId: null })).toBe(40012);
    expect(one({ type: 'r:multiple.v1', name: 'n', action: 1 }, { clientId: null })).toBe(40012);
    expect(one({ type: 'r:total.v1', data: 'x'.repeat(300) })).toBe(40009);
    expect(one({ type: 'r:total.v1' }, { idBase: null })).toBe(40031);
    expect(codeOf(() => buildAnnotations({ type: 'v:total.v1', messageSerial: S.replace('eu', 'us') }, { ...o, messageSerial: S }))).toBe(40003);
    expect(codeOf(() => buildAnnotations([], o))).toBe(40000);
    // The publish as a whole is held to maxMessageSize too.
    expect(codeOf(() => buildAnnotations(Array.from({ length: 3 }, () => ({ messageSerial: S, type: 'r:total.v1', data: 'x'.repeat(80) })), o))).toBe(40009);
    expect(codeOf(() => buildAnnotations(['x'], o))).toBe(40000);
    // Unidentified, a total.v1 and a multiple.v1 create are taken.
    expect(buildAnnotations([{ messageSerial: S, type: 'r:total.v1' }, { messageSerial: S, type: 'r:multiple.v1', name: 'n' }], { ...o, clientId: null })).toHaveLength(2);
  });
});

describe('wire forms', () => {
  const [m] = buildAnnotations([{ messageSerial: S, type: 'r:distinct.v1', name: 'up', data: Buffer.from([1, 2]) }], o);
  const stored = { ...m!, annotation: { ...m!.annotation!, serial: 'A1' }, summary: { 'r:distinct.v1': { up: { total: 1, clientIds: ['alice'], clipped: false } } } };

  it('sends an annotation with every field, its data as the format carries it', () => {
    expect(annotationToWire(stored, 'json')).toEqual({ id: 'conn:7:0', action: 0, type: 'r:distinct.v1', messageSerial: S, serial: 'A1', name: 'up', clientId: 'alice', connectionId: 'conn', data: 'AQI=', encoding: 'base64', timestamp: 5 });
    expect(annotationToWire(stored, 'msgpack').data).toEqual(Buffer.from([1, 2]));
  });

  it("sends its summary as a message of the annotated message's serial, with action 4 and nothing of the annotation's data", () => {
    expect(summaryToWire(stored)).toEqual({ id: 'conn:7:0', timestamp: 5, serial: S, action: 4, annotations: { summary: stored.summary } });
  });
});
