import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveClusterId, deriveMemberId } from '../../src/cli/sigild-ids.ts';

// Values reported by a real etcd 3.4.23 (`etcdctl member list -w json`) started with exactly
// these --initial-cluster URLs and --initial-cluster-token.
describe('member and cluster ids (checked against etcd 3.4)', () => {
  it('matches a three-member cluster', () => {
    const token = 'sigil-test-token';
    const a = deriveMemberId(['http://127.0.0.1:53479'], token);
    const b = deriveMemberId(['http://127.0.0.1:50761'], token);
    const c = deriveMemberId(['http://127.0.0.1:48235'], token);
    assert.equal(a, 10364389699606285590n);
    assert.equal(b, 11702626472897910414n);
    assert.equal(c, 1844882170744575020n);
    assert.equal(deriveClusterId([a, b, c]), 6321934602190354729n);
    assert.equal(deriveClusterId([c, a, b]), 6321934602190354729n, 'order does not matter');
  });

  it('matches a single member with the default token', () => {
    const id = deriveMemberId(['http://127.0.0.1:59835'], 'etcd-cluster');
    assert.equal(id, 8636624399198380777n);
    assert.equal(deriveClusterId([id]), 12448305421996961396n);
  });

  it("sorts a member's peer URLs before hashing", () => {
    const urls = ['http://10.0.0.2:2380', 'http://10.0.0.1:2380'];
    assert.equal(deriveMemberId(urls, 't'), deriveMemberId([...urls].reverse(), 't'));
  });
});
