import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { FlushStrategy, InstrumentFunctionOptions, OtelAwsLambdaLayer, TraceExport, instrumentFunction } from '../lib';
import { actions, bootstrapDir, expectNoWildcardActions, layerZips, newStack, resourcesFor, synth } from './helpers';

// What AWS documents for each path (cdk/lib/permissions.ts has the links): the X-Ray
// OTLP endpoint "is authorized as xray:PutTraceSegments" (X-Ray developer guide); the
// segment path is the write half of AWSXRayDaemonWriteAccess; the CloudWatch Logs OTLP
// endpoint is authorised as logs:PutLogEvents and writes to an existing stream.
const XRAY_OTLP = ['xray:PutTraceSegments'];
const XRAY_SEGMENTS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
const XRAY_SAMPLING = ['xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'];
const LOGS = ['logs:PutLogEvents'];

function rustFn(stack: Stack, architecture = lambda.Architecture.X86_64): lambda.Function {
  return new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.PROVIDED_AL2023,
    architecture,
    handler: 'bootstrap',
    code: lambda.Code.fromAsset(bootstrapDir()),
  });
}

function setup(
  options: Partial<InstrumentFunctionOptions> = {},
  makeFn: (s: Stack) => lambda.Function = (s) => rustFn(s),
  xrayExporter = false,
): { t: Template; stack: Stack; env: Record<string, unknown> } {
  const stack = newStack();
  const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips(), xrayExporter });
  const fn = makeFn(stack);
  instrumentFunction(fn, { layer, ...options });
  const t = synth(stack);
  const fns = t.findResources('AWS::Lambda::Function');
  const env = Object.values<any>(fns)[0].Properties.Environment?.Variables ?? {}; // eslint-disable-line @typescript-eslint/no-explicit-any
  expectNoWildcardActions(t);
  return { t, stack, env };
}

describe('instrumentFunction', () => {
  test('defaults: layer, OTLP to the X-Ray endpoint of the region, PutTraceSegments only, no exec wrapper for provided.al2023', () => {
    const { t, env } = setup();
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Layers: [{ Ref: Match.stringLikeRegexp('^LayerLayerx8664') }],
    });
    expect(env.OTEL_TRACES_EXPORTER).toBe('otlp');
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toEqual({
      'Fn::Join': ['', ['https://xray.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
    });
    expect(env.AWS_LAMBDA_EXEC_WRAPPER).toBeUndefined();
    expect(env.OTEL_SERVICE_NAME).toBeUndefined();
    expect(env.OTEL_AWS_LAMBDA_FLUSH).toBeUndefined();
    expect(env.OTEL_TRACES_SAMPLER).toBeUndefined();
    expect(env.OTEL_LOGS_EXPORTER).toBeUndefined();
    expect([...actions(t)].sort()).toEqual([...XRAY_OTLP].sort());
    // X-Ray has no resource-level permissions for PutTraceSegments; '*' resource is the only valid form.
    expect(resourcesFor(t, 'xray:PutTraceSegments')).toEqual(['*']);
    t.resourceCountIs('AWS::Logs::LogStream', 0);
  });

  test.each([
    ['python3.13', lambda.Runtime.PYTHON_3_13],
    ['nodejs24.x', lambda.Runtime.NODEJS_24_X],
  ])('sets AWS_LAMBDA_EXEC_WRAPPER for %s', (name, runtime) => {
    const { t, env } = setup({}, (s) =>
      new lambda.Function(s, 'Fn', { runtime, handler: 'index.handler', code: lambda.Code.fromInline('def handler(e, c): pass') }),
    );
    t.hasResourceProperties('AWS::Lambda::Function', { Runtime: name });
    expect(env.AWS_LAMBDA_EXEC_WRAPPER).toBe('/opt/otel-aws-wrapper');
  });

  test('execWrapper overrides the runtime default both ways', () => {
    expect(setup({ execWrapper: true }).env.AWS_LAMBDA_EXEC_WRAPPER).toBe('/opt/otel-aws-wrapper');
    const { env } = setup({ execWrapper: false }, (s) =>
      new lambda.Function(s, 'Fn', {
        runtime: lambda.Runtime.PYTHON_3_13,
        handler: 'index.handler',
        code: lambda.Code.fromInline('def handler(e, c): pass'),
      }),
    );
    expect(env.AWS_LAMBDA_EXEC_WRAPPER).toBeUndefined();
  });

  test('xraySegments: exporter xray, PutTraceSegments + PutTelemetryRecords, no endpoint', () => {
    const { t, env } = setup({ traces: TraceExport.xraySegments() }, undefined, true);
    expect(env.OTEL_TRACES_EXPORTER).toBe('xray');
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect([...actions(t)].sort()).toEqual([...XRAY_SEGMENTS].sort());
  });

  test('otlp(endpoint): the given endpoint and no X-Ray permissions', () => {
    const { t, env } = setup({ traces: TraceExport.otlp('https://collector.example.com:4318') });
    expect(env.OTEL_TRACES_EXPORTER).toBe('otlp');
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('https://collector.example.com:4318');
    expect(actions(t).filter((a) => a.startsWith('xray:'))).toEqual([]);
  });

  test('otlp rejects a non-URL endpoint', () => {
    expect(() => TraceExport.otlp('collector:4318')).toThrow(/must be an http\(s\) URL/);
  });

  test('console: exporter console and no IAM statements at all', () => {
    const { t, env } = setup({ traces: TraceExport.console() });
    expect(env.OTEL_TRACES_EXPORTER).toBe('console');
    expect(actions(t)).toEqual([]);
    t.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('xraySampling: sampler env and the three sampling read actions', () => {
    const { t, env } = setup({ xraySampling: true });
    expect(env.OTEL_TRACES_SAMPLER).toBe('xray');
    expect(actions(t)).toEqual(expect.arrayContaining(XRAY_SAMPLING));
  });

  test('logs: OTLP logs endpoint and headers, logs actions scoped to the log group only', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips() });
    const group = new logs.LogGroup(stack, 'AppLogs', { logGroupName: '/otel-aws/app' });
    instrumentFunction(rustFn(stack), { layer, logs: { logGroup: group, logStreamName: 'a,b=c d' } });
    const t = synth(stack);
    expectNoWildcardActions(t);
    const vars = Object.values<any>(t.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(vars.OTEL_LOGS_EXPORTER).toBe('otlp');
    expect(vars.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT).toEqual({
      'Fn::Join': ['', ['https://logs.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/v1/logs']],
    });
    // The group name is a Ref and passes as is; the literal stream name is
    // percent-encoded where it would break the `k=v,k=v` list.
    expect(vars.OTEL_EXPORTER_OTLP_LOGS_HEADERS).toEqual({
      'Fn::Join': ['', ['x-aws-log-group=', { Ref: expect.stringMatching(/^AppLogs/) }, ',x-aws-log-stream=a%2Cb%3Dc%20d']],
    });
    for (const a of LOGS) {
      expect(resourcesFor(t, a)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^AppLogs/), 'Arn'] }]);
    }
    expect(actions(t).filter((a) => a.startsWith('logs:'))).toEqual(LOGS);
    // The endpoint writes only to an existing stream: the stack declares it, in that group.
    t.resourceCountIs('AWS::Logs::LogStream', 1);
    t.hasResourceProperties('AWS::Logs::LogStream', {
      LogGroupName: { Ref: Match.stringLikeRegexp('^AppLogs') },
      LogStreamName: 'a,b=c d',
    });
  });

  test('logs: functions sharing a group and stream share one LogStream; createLogStream: false declares none', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips() });
    const group = new logs.LogGroup(stack, 'AppLogs');
    const fn = (id: string) =>
      new lambda.Function(stack, id, { runtime: lambda.Runtime.PROVIDED_AL2023, handler: 'bootstrap', code: lambda.Code.fromAsset(bootstrapDir()) });
    instrumentFunction(fn('A'), { layer, logs: { logGroup: group } });
    instrumentFunction(fn('B'), { layer, logs: { logGroup: group } });
    instrumentFunction(fn('C'), { layer, logs: { logGroup: group, logStreamName: 'other' } });
    instrumentFunction(fn('D'), { layer, logs: { logGroup: group, logStreamName: 'existing', createLogStream: false } });
    const t = synth(stack);
    expectNoWildcardActions(t);
    const names = Object.values<any>(t.findResources('AWS::Logs::LogStream')).map((r) => r.Properties.LogStreamName); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(names.sort()).toEqual(['otel-aws', 'other']);
  });

  test('logs with an imported group by name: literal header and an ARN for that group', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips() });
    const group = logs.LogGroup.fromLogGroupName(stack, 'Imported', '/aws/otel/app');
    instrumentFunction(rustFn(stack), { layer, logs: { logGroup: group } });
    const t = synth(stack);
    const vars = Object.values<any>(t.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(vars.OTEL_EXPORTER_OTLP_LOGS_HEADERS).toBe('x-aws-log-group=/aws/otel/app,x-aws-log-stream=otel-aws');
    const res = JSON.stringify(resourcesFor(t, 'logs:PutLogEvents'));
    expect(res).toContain(':log-group:/aws/otel/app:*');
    expect(res).not.toBe('["*"]');
  });

  test.each([
    [FlushStrategy.end(), 'end'],
    [FlushStrategy.periodic(Duration.seconds(2)), 'periodic,2000'],
    [FlushStrategy.periodic(Duration.millis(250)), 'periodic,250'],
    [FlushStrategy.adaptive(), 'adaptive'],
  ])('flush strategy %#: OTEL_AWS_LAMBDA_FLUSH=%s', (flush, value) => {
    expect(setup({ flush }).env.OTEL_AWS_LAMBDA_FLUSH).toBe(value);
  });

  test('periodic flush rejects a zero interval', () => {
    expect(() => FlushStrategy.periodic(Duration.millis(0))).toThrow(/positive whole number/);
  });

  test('service name and platform spans', () => {
    const { env } = setup({ serviceName: 'orders', platformSpans: true });
    expect(env.OTEL_SERVICE_NAME).toBe('orders');
    expect(env.OTEL_AWS_LAMBDA_PLATFORM_SPANS).toBe('true');
    expect(setup({ platformSpans: false }).env.OTEL_AWS_LAMBDA_PLATFORM_SPANS).toBe('false');
    expect(() => setup({ serviceName: '  ' })).toThrow(/serviceName is blank/);
  });

  test('an arm64 function gets the arm64 layer version', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', {
      zipPaths: layerZips(),
      architectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
    });
    instrumentFunction(rustFn(stack, lambda.Architecture.ARM_64), { layer });
    const t = synth(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Layers: [{ Ref: Match.stringLikeRegexp('^LayerLayerarm64') }],
    });
  });

  test('an arm64 function with an x86_64-only layer fails with what to do', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips() });
    expect(() => instrumentFunction(rustFn(stack, lambda.Architecture.ARM_64), { layer })).toThrow(/no arm64 layer/);
  });

  test('accepts a plain layer version', () => {
    const stack = newStack();
    const layer = lambda.LayerVersion.fromLayerVersionArn(stack, 'L', 'arn:aws:lambda:us-east-1:123456789012:layer:otel-aws:3');
    instrumentFunction(rustFn(stack), { layer });
    synth(stack).hasResourceProperties('AWS::Lambda::Function', {
      Layers: ['arn:aws:lambda:us-east-1:123456789012:layer:otel-aws:3'],
    });
  });

  test('instrumenting a function twice is an error', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips() });
    const fn = rustFn(stack);
    instrumentFunction(fn, { layer });
    expect(() => instrumentFunction(fn, { layer })).toThrow(/already instrumented/);
  });

  test('xraySegments with the default (OTLP-only) layer is an error naming make layer-xray', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips() });
    expect(() => instrumentFunction(rustFn(stack), { layer, traces: TraceExport.xraySegments() })).toThrow(
      /xraySegments\(\) needs the extension built with the xray exporter.*make layer-xray.*xrayExporter: true/,
    );
  });

  test('every option at once still grants no wildcard action', () => {
    const stack = newStack();
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips(), xrayExporter: true });
    const group = new logs.LogGroup(stack, 'G');
    instrumentFunction(rustFn(stack), {
      layer,
      traces: TraceExport.xraySegments(),
      xraySampling: true,
      logs: { logGroup: group },
      flush: FlushStrategy.adaptive(),
      platformSpans: true,
      serviceName: 'svc',
    });
    const t = synth(stack);
    expectNoWildcardActions(t);
    expect(actions(t)).toEqual(expect.arrayContaining([...XRAY_SEGMENTS, ...XRAY_SAMPLING, ...LOGS]));
  });
});
