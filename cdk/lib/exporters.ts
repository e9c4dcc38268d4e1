import { Duration, Token } from 'aws-cdk-lib';

/** Where the Lambda extension sends traces. */
export class TraceExport {
  /**
   * OTLP/HTTP to the X-Ray OTLP endpoint of the function's region
   * (`https://xray.<region>.amazonaws.com/v1/traces`, SigV4-signed by the
   * extension). Needs CloudWatch Transaction Search enabled in the account.
   * Grants `xray:PutTraceSegments`, the action that endpoint is authorised as.
   */
  public static xrayOtlp(): TraceExport {
    return new TraceExport('xray-otlp', 'otlp');
  }

  /**
   * X-Ray segment documents through the PutTraceSegments API (works without
   * Transaction Search). Grants `xray:PutTraceSegments` and `xray:PutTelemetryRecords`.
   */
  public static xraySegments(): TraceExport {
    return new TraceExport('xray-segments', 'xray');
  }

  /**
   * OTLP/HTTP to any endpoint (a collector you run, a vendor). Base URL:
   * `/v1/traces` is appended. Grants nothing.
   */
  public static otlp(endpoint: string): TraceExport {
    if (!Token.isUnresolved(endpoint) && !/^https?:\/\/[^\s]+$/.test(endpoint)) {
      throw new Error(`TraceExport.otlp: endpoint must be an http(s) URL, got '${endpoint}'`);
    }
    return new TraceExport('otlp', 'otlp', endpoint);
  }

  /** Print spans to the function's log (debugging). Grants nothing. */
  public static console(): TraceExport {
    return new TraceExport('console', 'console');
  }

  private constructor(
    /** Which destination this is. */
    public readonly kind: 'xray-otlp' | 'xray-segments' | 'otlp' | 'console',
    /** The `OTEL_TRACES_EXPORTER` value. */
    public readonly exporter: string,
    /** Explicit OTLP endpoint, for `otlp()`. */
    public readonly endpoint?: string,
  ) {}
}

/** When the Lambda extension flushes what it buffered (`OTEL_AWS_LAMBDA_FLUSH`). */
export class FlushStrategy {
  /** Flush every invoke's spans before the extension reports the invoke done (the safe default). */
  public static end(): FlushStrategy {
    return new FlushStrategy('end');
  }

  /** Flush at most every `interval`, carrying spans across invokes (fewer exports for busy functions). */
  public static periodic(interval: Duration): FlushStrategy {
    const ms = interval.toMilliseconds();
    if (!Number.isInteger(ms) || ms <= 0) {
      throw new Error(`FlushStrategy.periodic: interval must be a positive whole number of milliseconds, got ${ms}`);
    }
    return new FlushStrategy(`periodic,${ms}`);
  }

  /** Let the extension pick from the observed invoke rate. */
  public static adaptive(): FlushStrategy {
    return new FlushStrategy('adaptive');
  }

  private constructor(
    /** The `OTEL_AWS_LAMBDA_FLUSH` value. */
    public readonly value: string,
  ) {}
}
