// The examples in docs/cdk.md, synthesised (with fixture paths in place of
// the doc's asset paths) and checked. This file is a copy of them;
// docs-typecheck.test.ts reads the doc itself and type-checks its blocks,
// which is what keeps the text from drifting from the API.
import { Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { FlushStrategy, OtelAwsLambdaLayer, OtelAwsSidecar, SidecarConfig, TraceExport, instrumentFunction } from '../lib';
import { bootstrapDir, dockerDir, expectNoWildcardActions, layerZips, newStack, synth } from './helpers';

test('docs: Lambda example', () => {
  const self: Stack = newStack();
  const layer = new OtelAwsLambdaLayer(self, 'OtelAwsLayer', {
    architectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
    zipPaths: layerZips(),
  });
  const fn = new lambda.Function(self, 'Orders', {
    runtime: lambda.Runtime.PROVIDED_AL2023,
    architecture: lambda.Architecture.ARM_64,
    handler: 'bootstrap',
    code: lambda.Code.fromAsset(bootstrapDir()),
    tracing: lambda.Tracing.ACTIVE,
  });
  instrumentFunction(fn, { layer, serviceName: 'orders', flush: FlushStrategy.end(), traces: TraceExport.xrayOtlp() });
  const t = synth(self);
  expectNoWildcardActions(t);
  t.hasResourceProperties('AWS::Lambda::Function', {
    Architectures: ['arm64'],
    TracingConfig: { Mode: 'Active' },
    Environment: { Variables: { OTEL_SERVICE_NAME: 'orders', OTEL_AWS_LAMBDA_FLUSH: 'end', OTEL_TRACES_EXPORTER: 'otlp' } },
  });
});

test('docs: ECS examples', () => {
  const self: Stack = newStack();
  const task = new ecs.FargateTaskDefinition(self, 'Task', { cpu: 512, memoryLimitMiB: 1024 });
  const app = task.addContainer('App', {
    image: ecs.ContainerImage.fromRegistry('my-registry/my-app:1'),
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'app' }),
  });
  new OtelAwsSidecar(self, 'OtelAwsSidecar', {
    taskDefinition: task,
    applications: [app],
    image: OtelAwsSidecar.imageFromDirectory(dockerDir()),
  });

  const task2 = new ecs.FargateTaskDefinition(self, 'Task2');
  const app2 = task2.addContainer('App', { image: ecs.ContainerImage.fromRegistry('my-registry/my-app:1') });
  const param = ssm.StringParameter.fromStringParameterName(self, 'Cfg', '/otel-aws/sidecar-config');
  new OtelAwsSidecar(self, 'OtelAwsSidecar2', {
    taskDefinition: task2,
    config: SidecarConfig.fromSsmParameter(param),
    essential: false,
    image: 'public.ecr.aws/example/otel-aws-sidecar:1',
    applications: [app2],
  });
  const t = synth(self);
  expectNoWildcardActions(t);
  t.resourceCountIs('AWS::ECS::TaskDefinition', 2);
});

// docs/application-signals.md, "CDK".
test('docs: Application Signals examples', () => {
  const self: Stack = newStack();
  const layer = new OtelAwsLambdaLayer(self, 'OtelAwsLayer', { zipPaths: layerZips() });
  const fn = new lambda.Function(self, 'Orders', {
    runtime: lambda.Runtime.PROVIDED_AL2023,
    handler: 'bootstrap',
    code: lambda.Code.fromAsset(bootstrapDir()),
  });
  instrumentFunction(fn, { layer, serviceName: 'orders', applicationSignals: true });

  const task = new ecs.FargateTaskDefinition(self, 'Task');
  const app = task.addContainer('App', { image: ecs.ContainerImage.fromRegistry('my-registry/orders:1') });
  new OtelAwsSidecar(self, 'OtelAwsSidecar', {
    taskDefinition: task,
    applications: [app],
    applicationSignals: true,
    image: OtelAwsSidecar.imageFromDirectory(dockerDir()),
  });
  const t = synth(self);
  expectNoWildcardActions(t);
  t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { OTEL_AWS_APPLICATION_SIGNALS_ENABLED: 'true' } } });
  const containers = Object.values<any>(t.findResources('AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions; // eslint-disable-line @typescript-eslint/no-explicit-any
  const names = containers.flatMap((c: any) => (c.Environment ?? []).map((e: any) => e.Name)); // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(names).toEqual(expect.arrayContaining(['OTEL_AWS_CONFIG_CONTENT', 'OTEL_AWS_APPLICATION_SIGNALS_ENABLED']));
});
