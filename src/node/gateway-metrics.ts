/**
 * What the gateway reports of its clients, counted for the node: its Prometheus metrics
 * (NodeMetrics) and each app's stats (StatsRecorder), with the open connections per app
 * that the connections' peak is taken from (`peaks`, once a second).
 */
import type { GatewayMetrics } from '../gateway/services.js';
import type { NodeMetrics } from './metrics.js';
import type { StatsRecorder } from './stats.js';

export class GatewayCounts implements GatewayMetrics {
  /** Open connections per app (stats: connections peak). */
  private readonly connectionsByApp = new Map<string, number>();

  constructor(
    private readonly metrics: NodeMetrics,
    private readonly stats: StatsRecorder,
  ) {}

  connectionOpened(appId: string): void {
    this.metrics.connectionOpened();
    const n = (this.connectionsByApp.get(appId) ?? 0) + 1;
    this.connectionsByApp.set(appId, n);
    this.stats.add(appId, 'connections.all.opened');
    this.stats.level(appId, 'connections.all.peak', n);
  }

  connectionClosed(appId: string): void {
    this.metrics.connectionClosed();
    this.connectionsByApp.set(appId, Math.max(0, (this.connectionsByApp.get(appId) ?? 1) - 1));
  }

  connectionRefused(reason: 'capacity' | 'memory'): void {
    this.metrics.onConnectionRefused(reason);
  }

  apiRequest(appId: string, ok: boolean, tokenRequest: boolean): void {
    this.stats.add(appId, ok ? 'apiRequests.all.succeeded' : 'apiRequests.all.failed');
    if (tokenRequest) this.stats.add(appId, ok ? 'apiRequests.tokenRequests.succeeded' : 'apiRequests.tokenRequests.failed');
  }

  /** Messages a master took (refused ones are not counted): the node's counter and the app's stats. */
  published(appId: string, via: 'realtime' | 'rest', n: number, bytes: number): void {
    this.metrics.onPublished(n);
    this.stats.published(appId, via, n, bytes);
  }

  delivered(n: number): void {
    this.metrics.onDelivered(n);
  }

  slowConsumer(): void {
    this.metrics.onSlowConsumer();
  }

  /** Each app's open connections now, as a level of its connections' peak. */
  peaks(): void {
    for (const [app, n] of this.connectionsByApp) if (n > 0) this.stats.level(app, 'connections.all.peak', n);
  }
}
