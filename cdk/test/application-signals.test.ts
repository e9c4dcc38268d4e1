// applicationSignals on the Lambda helper and the ECS sidecar. Expectations come from AWS:
// - the managed policy CloudWatchLambdaApplicationSignalsExecutionRolePolicy
//   (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/CloudWatchLambdaApplicationSignalsExecutionRolePolicy.html),
//   restated below;
// - CloudWatch Logs' ARN forms for IAM policies (`log-group:<name>:*` for every action but
//   tagging: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html);
// - the variables AWS's ECS sidecar guide (CloudWatch-Application-Signals-ECS-Sidecar.html) and
//   AWS CDK's aws-applicationsignals-alpha set on an ADOT application container;
// - the sidecar config the image carries (ecs-sidecar/config/application-signals.yaml).
import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { OtelAwsLambdaLayer, OtelAwsSidecar, OtelAwsSidecarProps, SidecarConfig, TraceExport, instrumentFunction } from '../lib';
import { actions, bootstrapDir, dockerDir, expectNoWildcardActions, layerZips, newStack, statements, synth } from './helpers';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const ENV = { account: ACCOUNT, region: REGION };

/** The log statement of CloudWatchLambdaApplicationSignalsExecutionRolePolicy (v1), as AWS publishes it. */
const MANAGED_LOGS_STATEMENT = {
  Sid: 'CloudWatchApplicationSignalsLogGroupWritePermissions',
  Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
  Resource: 'arn:aws:logs:*:*:log-group:/aws/application-signals/data:*',
};
/** Its X-Ray statement. */
const MANAGED_XRAY_ACTIONS = ['xray:PutTraceSegments'];
/** The group and its streams in the stack's account and region, the `:*` form CloudWatch Logs documents. */
const GROUP_ARN = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/application-signals/data:*`;

const XRAY_SEGMENTS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
const XRAY_SAMPLING = ['xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'];

/** ADOT's variables for an application next to the CloudWatch agent sidecar (AWS's ECS guide). */
const ADOT_SIDECAR_ENV = (host: string) => ({
  OTEL_AWS_APPLICATION_SIGNALS_ENABLED: 'true',
  OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT: `http://${host}:4316/v1/metrics`,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://${host}:4316/v1/traces`,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
});

const SHIPPED_CONFIG = path.join(__dirname, '..', '..', 'ecs-sidecar', 'config', 'application-signals.yaml');

/** An IAM ARN pattern (`*` and `?` wildcards) as a regular expression. */
function arnPattern(pattern: string): RegExp {
  return new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

const list = (v: Json): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * A resource as text when its only token is the partition (a stack with an account and region
 * still leaves `AWS::Partition` to deploy time), read as `aws`; other values unchanged.
 */
function renderArn(r: Json): Json {
  const parts = r?.['Fn::Join']?.[0] === '' ? r['Fn::Join'][1] : undefined;
  if (!Array.isArray(parts) || !parts.every((p: Json) => typeof p === 'string' || p?.Ref === 'AWS::Partition')) return r;
  return parts.map((p: Json) => (typeof p === 'string' ? p : 'aws')).join('');
}

/** Statements granting any `logs:` action, as sorted action lists with their resources. */
function logsStatements(t: Template): { actions: string[]; resources: Json[] }[] {
  return statements(t)
    .filter((s) => list(s.Action).some((a: string) => a.startsWith('logs:')))
    .map((s) => ({ actions: list(s.Action).sort(), resources: list(s.Resource).map(renderArn) }));
}

describe('instrumentFunction applicationSignals', () => {
  function instrumented(options: { applicationSignals?: boolean; traces?: TraceExport }, env = true): { t: Template; vars: Record<string, Json> } {
    const stack = newStack(env ? ENV : undefined);
    const layer = new OtelAwsLambdaLayer(stack, 'Layer', { zipPaths: layerZips() });
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.PROVIDED_AL2023,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(bootstrapDir()),
    });
    instrumentFunction(fn, { layer, ...options });
    const t = synth(stack);
    expectNoWildcardActions(t);
    const vars = Object.values<Json>(t.findResources('AWS::Lambda::Function'))[0].Properties.Environment?.Variables ?? {};
    return { t, vars };
  }

  test('sets OTEL_AWS_APPLICATION_SIGNALS_ENABLED and grants the managed policy\'s log statement on the group in this account and region', () => {
    const { t, vars } = instrumented({ applicationSignals: true });
    expect(vars.OTEL_AWS_APPLICATION_SIGNALS_ENABLED).toBe('true');
    expect(logsStatements(t)).toEqual([{ actions: [...MANAGED_LOGS_STATEMENT.Action].sort(), resources: [GROUP_ARN] }]);
    // Narrower than the managed policy: its resource pattern covers ours, with the account and region fixed.
    expect(GROUP_ARN).toMatch(arnPattern(MANAGED_LOGS_STATEMENT.Resource));
    // The trace export keeps its own grant (the X-Ray OTLP endpoint: xray:PutTraceSegments,
    // the managed policy's X-Ray statement); nothing else is added.
    expect([...new Set(actions(t))].sort()).toEqual([...MANAGED_XRAY_ACTIONS, ...MANAGED_LOGS_STATEMENT.Action].sort());
  });

  test('an environment-agnostic stack scopes the group to the deploy-time partition, region and account', () => {
    const { t } = instrumented({ applicationSignals: true }, false);
    const [s] = logsStatements(t);
    expect(s.resources).toEqual([
      {
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:/aws/application-signals/data:*'],
        ],
      },
    ]);
  });

  test('traces elsewhere: Application Signals adds no X-Ray permission', () => {
    const { t, vars } = instrumented({ applicationSignals: true, traces: TraceExport.otlp('https://collector.example.com:4318') });
    expect(vars.OTEL_AWS_APPLICATION_SIGNALS_ENABLED).toBe('true');
    expect([...new Set(actions(t))].sort()).toEqual([...MANAGED_LOGS_STATEMENT.Action].sort());
  });

  test.each([[undefined], [false]])('applicationSignals %s: no variable, no logs permission', (applicationSignals) => {
    const { t, vars } = instrumented({ applicationSignals });
    expect(vars.OTEL_AWS_APPLICATION_SIGNALS_ENABLED).toBeUndefined();
    expect(logsStatements(t)).toEqual([]);
  });
});

describe('OtelAwsSidecar applicationSignals', () => {
  function sidecar(
    props: Partial<OtelAwsSidecarProps>,
    taskDef: (s: Stack) => ecs.TaskDefinition = (s) => new ecs.FargateTaskDefinition(s, 'Task'),
  ): { t: Template; sc: OtelAwsSidecar } {
    const stack = newStack(ENV);
    const task = taskDef(stack);
    const app = task.addContainer('App', { containerName: 'app', image: ecs.ContainerImage.fromRegistry('busybox'), memoryLimitMiB: 256 });
    const sc = new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: OtelAwsSidecar.imageFromDirectory(dockerDir()), applications: [app], ...props });
    const t = synth(stack);
    expectNoWildcardActions(t);
    return { t, sc };
  }
  const containerOf = (t: Template, name: string): Json =>
    Object.values<Json>(t.findResources('AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions.find((c: Json) => c.Name === name);
  const envOf = (c: Json): Record<string, Json> => Object.fromEntries((c.Environment ?? []).map((e: Json) => [e.Name, e.Value]));
  const roleStatements = (t: Template): Json[] => {
    const def = Object.values<Json>(t.findResources('AWS::ECS::TaskDefinition'))[0];
    const roleId = def.Properties.TaskRoleArn['Fn::GetAtt'][0];
    return Object.values<Json>(t.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .map((s: Json) => ({ actions: list(s.Action).sort(), resources: list(s.Resource).map(renderArn) }));
  };

  test('the shipped config declares the processor and listens on 4315/4316 (what the construct relies on)', () => {
    const yaml = fs.readFileSync(SHIPPED_CONFIG, 'utf8');
    expect(yaml).toMatch(/^\s+awsapplicationsignals:/m);
    expect(yaml).toMatch(/endpoint: 0\.0\.0\.0:4315$/m);
    expect(yaml).toMatch(/endpoint: 0\.0\.0\.0:4316$/m);
    expect(yaml).toMatch(/processors: \[[^\]]*awsapplicationsignals[^\]]*\]/);
    expect(yaml).toMatch(/exporters: \[awsxray\]/);
  });

  test('true: runs the image\'s application-signals.yaml, maps 4315/4316, sets ADOT\'s variables, grants exactly what the config uses', () => {
    const { t, sc } = sidecar({ applicationSignals: true });
    expect(sc.applicationSignals).toBe(true);
    const c = containerOf(t, 'otel-aws-sidecar');
    expect(envOf(c).OTEL_AWS_CONFIG_CONTENT).toBe(fs.readFileSync(SHIPPED_CONFIG, 'utf8'));
    expect(c.PortMappings).toEqual([
      { Name: 'otlp-grpc', ContainerPort: 4317, Protocol: 'tcp' },
      { Name: 'otlp-http', ContainerPort: 4318, Protocol: 'tcp' },
      { Name: 'xray-udp', ContainerPort: 2000, Protocol: 'udp' },
      { Name: 'xray-tcp', ContainerPort: 2000, Protocol: 'tcp' },
      { Name: 'appsignals-grpc', ContainerPort: 4315, Protocol: 'tcp' },
      { Name: 'appsignals-http', ContainerPort: 4316, Protocol: 'tcp' },
    ]);
    expect(envOf(containerOf(t, 'app'))).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
      AWS_XRAY_DAEMON_ADDRESS: 'localhost:2000',
      ...ADOT_SIDECAR_ENV('localhost'),
    });
    // The config's awsxray exporter (PutTraceSegments, as the xray-segments config), its
    // sampling proxy, and the processor's log group: the managed policy's three logs actions
    // on the group and its streams, in this account and region.
    expect(roleStatements(t)).toEqual([
      { actions: [...XRAY_SEGMENTS].sort(), resources: ['*'] },
      { actions: [...XRAY_SAMPLING].sort(), resources: ['*'] },
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [GROUP_ARN] },
      { actions: ['logs:CreateLogGroup'], resources: [GROUP_ARN] },
    ]);
    expect(GROUP_ARN).toMatch(arnPattern(MANAGED_LOGS_STATEMENT.Resource));
  });

  test('the config\'s ${env:...} placeholders raise no CloudFormation substitution warning at synth', () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      sidecar({ applicationSignals: true });
      expect(errors.mock.calls.flat().join('\n')).not.toContain('E1029');
    } finally {
      errors.mockRestore();
    }
  });

  test('the carried application-signals config alone turns it on', () => {
    const { t, sc } = sidecar({ config: SidecarConfig.carried('application-signals') });
    expect(sc.applicationSignals).toBe(true);
    expect(envOf(containerOf(t, 'app'))).toMatchObject(ADOT_SIDECAR_ENV('localhost'));
    expect(containerOf(t, 'otel-aws-sidecar').PortMappings.map((p: Json) => p.ContainerPort)).toEqual([4317, 4318, 2000, 2000, 4315, 4316]);
  });

  test('EC2 bridge mode: the variables name the sidecar container', () => {
    const { t } = sidecar({ applicationSignals: true }, (s) => new ecs.Ec2TaskDefinition(s, 'Task'));
    expect(envOf(containerOf(t, 'app'))).toMatchObject(ADOT_SIDECAR_ENV('otel-aws-sidecar'));
  });

  test('setEnvironment: false leaves the application untouched', () => {
    const stack = newStack(ENV);
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    const app = task.addContainer('App', { containerName: 'app', image: ecs.ContainerImage.fromRegistry('busybox') });
    const sc = new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: 'example/sidecar:1', applicationSignals: true });
    sc.addApplication(app, { setEnvironment: false });
    expect(containerOf(synth(stack), 'app').Environment).toBeUndefined();
  });

  test('off by default: no 4315/4316, no ADOT variables, no Application Signals group', () => {
    const { t, sc } = sidecar({});
    expect(sc.applicationSignals).toBe(false);
    expect(containerOf(t, 'otel-aws-sidecar').PortMappings.map((p: Json) => p.ContainerPort)).toEqual([4317, 4318, 2000, 2000]);
    expect(Object.keys(envOf(containerOf(t, 'app'))).sort()).toEqual(['AWS_XRAY_DAEMON_ADDRESS', 'OTEL_EXPORTER_OTLP_ENDPOINT']);
    expect(JSON.stringify(roleStatements(t))).not.toContain('application-signals');
  });

  const WITH_PROCESSOR = [
    'processors:\n  awsapplicationsignals:\n    max_series: 500\nservice:\n  pipelines:\n    traces: {receivers: [otlp], processors: [awsapplicationsignals], exporters: [awsxray]}\n',
    'processors:\n  awsapplicationsignals/custom: {}\n',
    'processors: {batch: {}, awsapplicationsignals: {}}\n',
    "processors:\n  'awsapplicationsignals':\n    region: us-east-1\n",
  ];
  const WITHOUT_PROCESSOR = [
    'receivers:\n  otlp: {}\n',
    '# awsapplicationsignals:\nprocessors:\n  batch: {} # awsapplicationsignals: later\n',
    'processors:\n  awsapplicationsignalsx: {}\n',
  ];

  test.each(WITH_PROCESSOR)('an inline config declaring the processor is read as Application Signals: %j', (yaml) => {
    const config = SidecarConfig.inline(yaml);
    expect(config.applicationSignals).toBe(true);
    const { t, sc } = sidecar({ config });
    expect(sc.applicationSignals).toBe(true);
    expect(roleStatements(t).filter((s) => s.actions.some((a: string) => a.startsWith('logs:')))).toEqual([
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [GROUP_ARN] },
      { actions: ['logs:CreateLogGroup'], resources: [GROUP_ARN] },
    ]);
  });

  test.each(WITHOUT_PROCESSOR)('an inline config without the processor is not: %j', (yaml) => {
    expect(SidecarConfig.inline(yaml).applicationSignals).toBe(false);
  });

  test('conflicts fail at synth time naming the option and the config', () => {
    expect(() => sidecar({ applicationSignals: true, config: SidecarConfig.carriedDefault() })).toThrow(
      /applicationSignals is true but the carried default config \(ecs-default\) declares no awsapplicationsignals processor: omit config/,
    );
    expect(() => sidecar({ applicationSignals: true, config: SidecarConfig.carried('xray-segments') })).toThrow(
      /applicationSignals is true but the carried config 'xray-segments' declares no awsapplicationsignals processor/,
    );
    expect(() => sidecar({ applicationSignals: true, config: SidecarConfig.inline(WITHOUT_PROCESSOR[0]) })).toThrow(
      /applicationSignals is true but the inline config declares no awsapplicationsignals processor/,
    );
    expect(() => sidecar({ applicationSignals: false, config: SidecarConfig.carried('application-signals') })).toThrow(
      /applicationSignals is false but the carried config 'application-signals' runs the awsapplicationsignals processor/,
    );
    expect(() => sidecar({ applicationSignals: false, config: SidecarConfig.inline(WITH_PROCESSOR[0]) })).toThrow(
      /applicationSignals is false but the inline config runs the awsapplicationsignals processor/,
    );
  });

  test('an SSM config is taken on trust: applicationSignals: true grants the group, unset grants nothing for it', () => {
    const run = (applicationSignals?: boolean) => {
      const stack = newStack(ENV);
      const task = new ecs.FargateTaskDefinition(stack, 'Task');
      const param = ssm.StringParameter.fromStringParameterName(stack, 'Cfg', '/otel-aws/sidecar-config');
      const sc = new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: 'example/sidecar:1', config: SidecarConfig.fromSsmParameter(param), applicationSignals });
      return { t: synth(stack), sc };
    };
    const on = run(true);
    expect(on.sc.applicationSignals).toBe(true);
    expect(roleStatements(on.t).filter((s) => s.actions.some((a: string) => a.startsWith('logs:')))).toEqual([
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [GROUP_ARN] },
      { actions: ['logs:CreateLogGroup'], resources: [GROUP_ARN] },
    ]);
    const off = run(undefined);
    expect(off.sc.applicationSignals).toBe(false);
    expect(roleStatements(off.t).filter((s) => s.actions.some((a: string) => a.startsWith('logs:')))).toEqual([]);
  });

  test('the group listed again in emfLogGroups is granted once', () => {
    const { t } = sidecar({ applicationSignals: true, emfLogGroups: [{ logGroupName: '/aws/application-signals/data' }, { logGroupName: '/metrics/app' }] });
    const logs = roleStatements(t).filter((s) => s.actions.some((a: string) => a.startsWith('logs:')));
    expect(logs).toEqual([
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [GROUP_ARN, `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/metrics/app:*`] },
      { actions: ['logs:CreateLogGroup'], resources: [GROUP_ARN] },
    ]);
  });
});
