import * as fs from 'fs';
import * as path from 'path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { OtelAwsSidecar, OtelAwsSidecarProps, SidecarConfig, SidecarTraceDestination } from '../lib';
import { assetsManifest, dockerDir, expectNoWildcardActions, newStack, resourcesFor, stagedSidecarDir, synth, tempDir } from './helpers';

// What AWS documents for each path (cdk/lib/permissions.ts has the links): the X-Ray
// OTLP endpoint "is authorized as xray:PutTraceSegments" (X-Ray developer guide); the
// segment path is the write half of AWSXRayDaemonWriteAccess; the CloudWatch Logs OTLP
// endpoint is authorised as logs:PutLogEvents.
const XRAY_OTLP = ['xray:PutTraceSegments'];
const XRAY_SEGMENTS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
const XRAY_SAMPLING = ['xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'];
const LOGS = ['logs:PutLogEvents'];

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function containers(t: Template): Json[] {
  const defs = Object.values<Json>(t.findResources('AWS::ECS::TaskDefinition'));
  expect(defs).toHaveLength(1);
  return defs[0].Properties.ContainerDefinitions;
}

function container(t: Template, name: string): Json {
  const c = containers(t).find((x) => x.Name === name);
  expect(c).toBeDefined();
  return c;
}

function envOf(c: Json): Record<string, Json> {
  return Object.fromEntries((c.Environment ?? []).map((e: Json) => [e.Name, e.Value]));
}

/** IAM statements attached to the task role (`TaskRoleArn`) or the execution role (`ExecutionRoleArn`). */
function roleStatements(t: Template, which: 'TaskRoleArn' | 'ExecutionRoleArn' = 'TaskRoleArn'): Json[] {
  const def = Object.values<Json>(t.findResources('AWS::ECS::TaskDefinition'))[0];
  const roleId = def.Properties[which]['Fn::GetAtt'][0];
  return Object.values<Json>(t.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

const list = (v: Json): Json[] => (Array.isArray(v) ? v : [v]);

/** Actions granted through the task role (not the execution role). */
function taskRoleActions(t: Template): string[] {
  return roleStatements(t).flatMap((s: Json) => list(s.Action));
}

/** Resources of the task-role statements granting `action`. */
function taskRoleResources(t: Template, action: string): Json[] {
  return roleStatements(t)
    .filter((s: Json) => list(s.Action).includes(action))
    .flatMap((s: Json) => list(s.Resource));
}

/** A carried config without `awsemf` exporters (traces, metrics and logs over OTLP). */
const NO_EMF = () => SidecarConfig.carried('cloudwatch-otlp');

function fargate(
  props: Partial<OtelAwsSidecarProps> = {},
  withApp = true,
): { t: Template; stack: Stack; sidecar: OtelAwsSidecar; task: ecs.FargateTaskDefinition } {
  const stack = newStack();
  const task = new ecs.FargateTaskDefinition(stack, 'Task', { cpu: 512, memoryLimitMiB: 1024 });
  const apps = withApp
    ? [task.addContainer('App', { containerName: 'app', image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest'), memoryReservationMiB: 128 })]
    : [];
  const sidecar = new OtelAwsSidecar(stack, 'Sidecar', {
    taskDefinition: task,
    image: OtelAwsSidecar.imageFromDirectory(dockerDir()),
    applications: apps,
    ...props,
  });
  const t = synth(stack);
  expectNoWildcardActions(t);
  return { t, stack, sidecar, task };
}

describe('OtelAwsSidecar', () => {
  test('defaults on Fargate: container, sizes, health check, ports, logging, region', () => {
    const { t } = fargate();
    const c = container(t, 'otel-aws-sidecar');
    expect(c.Essential).toBe(true);
    expect(c.Cpu).toBe(256);
    expect(c.MemoryReservation).toBe(64);
    expect(c.Memory).toBe(128);
    expect(c.HealthCheck).toEqual({
      Command: ['CMD', '/otel-aws-sidecar', 'healthcheck'],
      Interval: 10,
      Timeout: 5,
      Retries: 3,
      StartPeriod: 10,
    });
    expect(c.PortMappings).toEqual([
      { Name: 'otlp-grpc', ContainerPort: 4317, Protocol: 'tcp' },
      { Name: 'otlp-http', ContainerPort: 4318, Protocol: 'tcp' },
      { Name: 'xray-udp', ContainerPort: 2000, Protocol: 'udp' },
      { Name: 'xray-tcp', ContainerPort: 2000, Protocol: 'tcp' },
    ]);
    expect(c.LogConfiguration).toEqual({
      LogDriver: 'awslogs',
      Options: {
        'awslogs-group': { Ref: expect.stringMatching(/^SidecarLogs/) },
        'awslogs-stream-prefix': 'otel-aws-sidecar',
        'awslogs-region': { Ref: 'AWS::Region' },
      },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    expect(envOf(c)).toEqual({ AWS_REGION: { Ref: 'AWS::Region' } });
    expect(c.Secrets).toBeUndefined();
    // The image is the directory asset (an ECR URI in the bootstrap assets repository).
    expect(JSON.stringify(c.Image)).toContain('cdk-hnb659fds-container-assets');
  });

  test('default config grants X-Ray OTLP export and sampling to the task role, and its EMF log groups, nothing else', () => {
    const { t } = fargate();
    const granted = [...new Set(taskRoleActions(t))];
    const EMF = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];
    expect(granted.sort()).toEqual([...XRAY_OTLP, ...XRAY_SAMPLING, ...EMF].sort());
    for (const a of [...XRAY_OTLP, ...XRAY_SAMPLING]) expect(resourcesFor(t, a)).toEqual(['*']);
  });

  test('applications depend on the sidecar being HEALTHY and get the localhost endpoint (awsvpc)', () => {
    const { t } = fargate();
    const app = container(t, 'app');
    expect(app.DependsOn).toEqual([{ ContainerName: 'otel-aws-sidecar', Condition: 'HEALTHY' }]);
    expect(envOf(app)).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
      AWS_XRAY_DAEMON_ADDRESS: 'localhost:2000',
    });
    expect(app.Links).toBeUndefined();
  });

  test('EC2 bridge mode: the application is linked and uses the sidecar name', () => {
    const stack = newStack();
    const task = new ecs.Ec2TaskDefinition(stack, 'Task');
    const app = task.addContainer('App', { containerName: 'app', image: ecs.ContainerImage.fromRegistry('busybox'), memoryLimitMiB: 256 });
    const sidecar = new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: 'public.ecr.aws/example/otel-aws-sidecar:1' });
    sidecar.addApplication(app);
    sidecar.addApplication(app); // idempotent
    const t = synth(stack);
    expectNoWildcardActions(t);
    t.hasResourceProperties('AWS::ECS::TaskDefinition', { NetworkMode: 'bridge', RequiresCompatibilities: ['EC2'] });
    const a = container(t, 'app');
    expect(a.Links).toEqual(['otel-aws-sidecar']);
    expect(a.DependsOn).toEqual([{ ContainerName: 'otel-aws-sidecar', Condition: 'HEALTHY' }]);
    expect(envOf(a)).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-aws-sidecar:4318',
      AWS_XRAY_DAEMON_ADDRESS: 'otel-aws-sidecar:2000',
    });
    const s = container(t, 'otel-aws-sidecar');
    expect(s.Image).toBe('public.ecr.aws/example/otel-aws-sidecar:1');
    expect(s.HealthCheck.Command).toEqual(['CMD', '/otel-aws-sidecar', 'healthcheck']);
  });

  test('EC2 awsvpc mode: localhost endpoint, no links', () => {
    const stack = newStack();
    const task = new ecs.Ec2TaskDefinition(stack, 'Task', { networkMode: ecs.NetworkMode.AWS_VPC });
    const app = task.addContainer('App', { containerName: 'app', image: ecs.ContainerImage.fromRegistry('busybox'), memoryLimitMiB: 256 });
    new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: 'example/sidecar:1', applications: [app] });
    const t = synth(stack);
    const a = container(t, 'app');
    expect(a.Links).toBeUndefined();
    expect(envOf(a).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://localhost:4318');
  });

  test('setEnvironment: false keeps the dependency but sets no environment', () => {
    const stack = newStack();
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    const app = task.addContainer('App', { containerName: 'app', image: ecs.ContainerImage.fromRegistry('busybox') });
    const sidecar = new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: 'example/sidecar:1' });
    sidecar.addApplication(app, { setEnvironment: false });
    const a = container(synth(stack), 'app');
    expect(a.DependsOn).toEqual([{ ContainerName: 'otel-aws-sidecar', Condition: 'HEALTHY' }]);
    expect(a.Environment).toBeUndefined();
  });

  test('essential, name, cpu, memory and health timing options', () => {
    const { t } = fargate({
      essential: false,
      containerName: 'collector',
      cpu: 128,
      memoryReservationMiB: 32,
      memoryLimitMiB: 256,
      healthCheck: { interval: Duration.seconds(30), timeout: Duration.seconds(2), retries: 5, startPeriod: Duration.seconds(0) },
      environment: { RUST_LOG: 'debug' },
    });
    const c = container(t, 'collector');
    expect(c.Essential).toBe(false);
    expect(c.Cpu).toBe(128);
    expect(c.MemoryReservation).toBe(32);
    expect(c.Memory).toBe(256);
    expect(c.HealthCheck).toEqual({ Command: ['CMD', '/otel-aws-sidecar', 'healthcheck'], Interval: 30, Timeout: 2, Retries: 5, StartPeriod: 0 });
    expect(envOf(c).RUST_LOG).toBe('debug');
    expect(container(t, 'app').DependsOn).toEqual([{ ContainerName: 'collector', Condition: 'HEALTHY' }]);
  });

  test('a memory reservation above the limit is an error', () => {
    expect(() => fargate({ memoryReservationMiB: 256, memoryLimitMiB: 128 })).toThrow(/memoryReservationMiB \(256\) is above memoryLimitMiB \(128\)/);
  });

  test('custom logging replaces the default log group', () => {
    const stack = newStack();
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    const sidecar = new OtelAwsSidecar(stack, 'Sidecar', {
      taskDefinition: task,
      image: 'example/sidecar:1',
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'mine', logRetention: undefined }),
    });
    expect(sidecar.logGroup).toBeUndefined();
    const t = synth(stack);
    expect(container(t, 'otel-aws-sidecar').LogConfiguration.Options['awslogs-stream-prefix']).toBe('mine');
  });

  test('logRetention sets the default group retention', () => {
    const { t } = fargate({ logRetention: logs.RetentionDays.ONE_MONTH });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('inline config goes in OTEL_AWS_CONFIG_CONTENT', () => {
    const yaml = 'receivers:\n  otlp: {}\n';
    const { t } = fargate({ config: SidecarConfig.inline(yaml) });
    expect(envOf(container(t, 'otel-aws-sidecar')).OTEL_AWS_CONFIG_CONTENT).toBe(yaml);
  });

  test('a config file is read at synth time and passed inline', () => {
    const file = path.join(tempDir(), 'my.yaml');
    fs.writeFileSync(file, 'exporters:\n  console: {}\n');
    const { t } = fargate({ config: SidecarConfig.fromFile(file, SidecarTraceDestination.NONE) });
    expect(envOf(container(t, 'otel-aws-sidecar')).OTEL_AWS_CONFIG_CONTENT).toBe('exporters:\n  console: {}\n');
    expect(taskRoleActions(t).filter((a) => a.startsWith('xray:Put'))).toEqual([]);
  });

  test.each([
    ['xray-segments' as const, XRAY_SEGMENTS, []],
    ['ecs-default' as const, XRAY_OTLP, ['xray:PutTelemetryRecords']],
    ['local-debug' as const, [], XRAY_SEGMENTS],
    ['cloudwatch-otlp' as const, XRAY_OTLP, ['xray:PutTelemetryRecords']],
    ['application-signals' as const, XRAY_SEGMENTS, []],
  ])('carried config %s: inline content and matching X-Ray permissions', (name, granted, notGranted) => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, `${name}.yaml`), `# ${name}\n`);
    const { t } = fargate({ config: SidecarConfig.carried(name, dir) });
    expect(envOf(container(t, 'otel-aws-sidecar')).OTEL_AWS_CONFIG_CONTENT).toBe(`# ${name}\n`);
    const actual = taskRoleActions(t);
    expect(actual).toEqual(expect.arrayContaining([...granted, ...XRAY_SAMPLING]));
    for (const a of notGranted) expect(actual).not.toContain(a);
  });

  test('a missing carried config or file fails with the path', () => {
    const dir = tempDir();
    expect(() => SidecarConfig.carried('xray-segments', dir)).toThrow(/sidecar config xray-segments.yaml not found at .*xray-segments.yaml/);
    expect(() => SidecarConfig.fromFile(path.join(dir, 'nope.yaml'))).toThrow(/sidecar config file not found/);
  });

  test('empty and oversized inline configs are errors', () => {
    expect(() => SidecarConfig.inline('  \n')).toThrow(/config is empty/);
    expect(() => SidecarConfig.inline('#'.repeat(40 * 1024))).toThrow(/SSM parameter/);
  });

  test('SSM parameter config is a secret; the execution role reads that parameter only', () => {
    const stack = newStack();
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    const param = new ssm.StringParameter(stack, 'Cfg', { stringValue: 'receivers: {}\n' });
    new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: 'example/sidecar:1', config: SidecarConfig.fromSsmParameter(param) });
    const t = synth(stack);
    expectNoWildcardActions(t);
    const c = container(t, 'otel-aws-sidecar');
    expect(envOf(c).OTEL_AWS_CONFIG_CONTENT).toBeUndefined();
    expect(c.Secrets).toEqual([{ Name: 'OTEL_AWS_CONFIG_CONTENT', ValueFrom: expect.anything() }]);
    expect(JSON.stringify(c.Secrets[0].ValueFrom)).toContain(':parameter/');
    // Read access lands on the execution role (ECS fetches secrets before the container starts), not the task role.
    expect(taskRoleActions(t).filter((a) => a.startsWith('ssm:'))).toEqual([]);
    const ssmResources = roleStatements(t, 'ExecutionRoleArn')
      .filter((st: Json) => list(st.Action).includes('ssm:GetParameters'))
      .flatMap((st: Json) => list(st.Resource));
    expect(ssmResources.length).toBeGreaterThan(0);
    expect(ssmResources).not.toContain('*');
    expect(JSON.stringify(ssmResources)).toContain(':parameter/');
  });

  test('samplingProxy: false drops the sampling actions', () => {
    const { t } = fargate({ samplingProxy: false });
    const granted = taskRoleActions(t);
    for (const a of XRAY_SAMPLING) expect(granted).not.toContain(a);
    expect(granted).toEqual(expect.arrayContaining(XRAY_OTLP));
  });

  test('logsExportGroup grants the logs actions on that group only', () => {
    const stack = newStack();
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    const group = new logs.LogGroup(stack, 'Exported');
    new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: 'example/sidecar:1', logsExportGroup: group, config: SidecarConfig.carried('cloudwatch-otlp') });
    const t = synth(stack);
    expectNoWildcardActions(t);
    expect(taskRoleActions(t)).toEqual(expect.arrayContaining(LOGS));
    expect(taskRoleActions(t).filter((a) => a.startsWith('logs:'))).toEqual(LOGS);
    for (const a of LOGS) expect(taskRoleResources(t, a)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^Exported/), 'Arn'] }]);
  });

  test('metricsOtlpExport grants cloudwatch:PutMetricData (the OTLP metrics endpoint) and nothing else new', () => {
    const { t } = fargate({ metricsOtlpExport: true, config: NO_EMF() });
    expect(taskRoleActions(t).filter((a) => a.startsWith('cloudwatch:'))).toEqual(['cloudwatch:PutMetricData']);
    expect(taskRoleResources(t, 'cloudwatch:PutMetricData')).toEqual(['*']);
    expect(taskRoleActions(t).filter((a) => a.startsWith('logs:'))).toEqual([]);
    const { t: plain } = fargate({ config: NO_EMF() });
    expect(taskRoleActions(plain).filter((a) => a.startsWith('cloudwatch:'))).toEqual([]);
  });

  // Each group is granted as `log-group:<name>:*`, the form CloudWatch Logs documents for IAM
  // policies on every action but tagging (it covers the group's streams):
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html
  test('emfLogGroups grant PutLogEvents/CreateLogStream on the named groups, CreateLogGroup only where allowed, no cloudwatch action', () => {
    const { t } = fargate({
      emfLogGroups: [{ logGroupName: '/aws/ecs/application/metrics' }, { logGroupName: '/metrics/checkout', createLogGroup: true }],
      config: NO_EMF(),
    });
    expectNoWildcardActions(t);
    const logsActions = [...new Set(taskRoleActions(t).filter((a) => a.startsWith('logs:')))].sort();
    expect(logsActions).toEqual(['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(taskRoleActions(t).filter((a) => a.startsWith('cloudwatch:'))).toEqual([]);
    const text = (r: Json) => JSON.stringify(r);
    const put = taskRoleResources(t, 'logs:PutLogEvents').map(text);
    expect(put).toHaveLength(2);
    expect(put[0]).toMatch(/:logs:",\{"Ref":"AWS::Region"\},":",\{"Ref":"AWS::AccountId"\},":log-group:\/aws\/ecs\/application\/metrics:\*"/);
    expect(put[1]).toMatch(/:log-group:\/metrics\/checkout:\*"/);
    expect(taskRoleResources(t, 'logs:CreateLogStream').map(text)).toEqual(put);
    const create = taskRoleResources(t, 'logs:CreateLogGroup').map(text);
    expect(create).toEqual([put[1]]);
  });

  test('emfLogGroups refuse names the role cannot be scoped to', () => {
    expect(() => fargate({ emfLogGroups: [{ logGroupName: '/ecs/{TaskId}' }] })).toThrow(/placeholders such as \{TaskId\}/);
    expect(() => fargate({ emfLogGroups: [{ logGroupName: '' }] })).toThrow(/not a log group name/);
  });

  test('the default config\'s EMF groups are granted: exactly the log_group_name values of ecs-default.yaml, created when missing', () => {
    const yaml = fs.readFileSync(path.join(__dirname, '..', '..', 'ecs-sidecar', 'config', 'ecs-default.yaml'), 'utf8');
    const groups = [...yaml.matchAll(/^\s*log_group_name:\s*(\S+)\s*$/gm)].map((m) => m[1]).sort();
    expect(groups.length).toBeGreaterThan(0);
    for (const config of [undefined, SidecarConfig.carriedDefault(), SidecarConfig.carried('ecs-default')]) {
      const { t } = fargate(config ? { config } : {});
      expectNoWildcardActions(t);
      const granted = (action: string) =>
        [...new Set(taskRoleResources(t, action).map((r) => JSON.stringify(r).match(/:log-group:([^:"]+)/)?.[1]))].sort();
      expect(granted('logs:PutLogEvents')).toEqual(groups);
      expect(granted('logs:CreateLogStream')).toEqual(groups);
      expect(granted('logs:CreateLogGroup')).toEqual(groups);
    }
  });

  test('no logs permissions on the task role unless asked or the config writes EMF (the execution role writes the container logs)', () => {
    const { t } = fargate({ config: NO_EMF() });
    expect(taskRoleActions(t).filter((a) => a.startsWith('logs:'))).toEqual([]);
    const exec = roleStatements(t, 'ExecutionRoleArn').filter((st: Json) => list(st.Action).includes('logs:PutLogEvents'));
    expect(exec.flatMap((st: Json) => list(st.Resource))).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^SidecarLogs/), 'Arn'] }]);
  });

  test('addApplication rejects the sidecar itself and containers of another task', () => {
    const stack = newStack();
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    const other = new ecs.FargateTaskDefinition(stack, 'Other');
    const foreign = other.addContainer('App', { image: ecs.ContainerImage.fromRegistry('busybox') });
    const sidecar = new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: 'example/sidecar:1' });
    expect(() => sidecar.addApplication(sidecar.container)).toThrow(/sidecar container itself/);
    expect(() => sidecar.addApplication(foreign)).toThrow(/belongs to another task definition/);
  });

  test('image builders fail with the missing path and what to run', () => {
    const empty = tempDir();
    expect(() => OtelAwsSidecar.imageFromDirectory(empty)).toThrow(/sidecar Dockerfile not found at .*Dockerfile/);
    expect(() => OtelAwsSidecar.imageFromStagedContext(empty)).toThrow(
      /staged sidecar build context file Dockerfile not found at .*Dockerfile: run `make sidecar-image`/,
    );
    // A context without the binary (e.g. a failed build) is refused too.
    const partial = stagedSidecarDir();
    fs.rmSync(path.join(partial, 'otel-aws-sidecar'));
    expect(() => OtelAwsSidecar.imageFromStagedContext(partial)).toThrow(/otel-aws-sidecar not found at .*: run `make sidecar-image`/);
  });

  test('imageFromStagedContext uploads only the staged context, for linux/amd64', () => {
    const dir = stagedSidecarDir();
    const stack = newStack();
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: OtelAwsSidecar.imageFromStagedContext(dir) });
    const { dir: out, manifest } = assetsManifest(stack);
    const images = Object.values<Json>(manifest.dockerImages ?? {});
    expect(images).toHaveLength(1);
    expect(images[0].source.dockerFile).toBe('Dockerfile');
    expect(images[0].source.platform).toBe('linux/amd64');
    // The directory cdk deploy builds from is a copy of the staged context, nothing else.
    const staged = path.join(out, images[0].source.directory);
    expect(fs.readdirSync(staged).sort()).toEqual(['Dockerfile', 'ca-certificates.crt', 'config.yaml', 'otel-aws-sidecar']);
    expect(fs.statSync(path.join(staged, 'otel-aws-sidecar')).mode & 0o111).not.toBe(0);
    // The template's image is that asset (tagged with its content hash).
    const hash = Object.keys(manifest.dockerImages)[0];
    expect(JSON.stringify(container(Template.fromStack(stack), 'otel-aws-sidecar').Image)).toContain(hash);
  });

  test('the image asset hash follows the staged binary', () => {
    const hashOf = (binary: string): string => {
      const stack = newStack();
      const task = new ecs.FargateTaskDefinition(stack, 'Task');
      new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: task, image: OtelAwsSidecar.imageFromStagedContext(stagedSidecarDir(binary)) });
      return Object.keys(assetsManifest(stack).manifest.dockerImages)[0];
    };
    expect(hashOf('build 1')).toBe(hashOf('build 1'));
    expect(hashOf('build 1')).not.toBe(hashOf('build 2'));
  });

  test('without an image the sidecar uses the staged context (imageFromStagedContext with its default)', () => {
    const spy = jest.spyOn(OtelAwsSidecar, 'imageFromStagedContext').mockReturnValue(OtelAwsSidecar.imageFromDirectory(stagedSidecarDir()));
    try {
      const stack = newStack();
      new OtelAwsSidecar(stack, 'Sidecar', { taskDefinition: new ecs.FargateTaskDefinition(stack, 'Task') });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy).toHaveBeenCalledWith();
    } finally {
      spy.mockRestore();
    }
  });
});
