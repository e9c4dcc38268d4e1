#!/usr/bin/env node
/**
 * Sample app: a Rust Lambda function with the otel-aws layer and a Fargate
 * service with the otel-aws sidecar, both exporting traces to AWS X-Ray.
 *
 *   npx cdk synth            # offline: no lookups, environment-agnostic stack
 *
 * It uses three build outputs, looked for under $CARGO_TARGET_DIR, then
 * <repo>/target (synthesis fails, naming the command, when one is missing):
 *   layer/otel-aws-extension-x86_64.zip   make layer
 *   sidecar-image/                        make sidecar-image  (or ecs-sidecar/scripts/build-image.sh --stage-only)
 *   cdk-sample/rust-function.zip          bash cdk/scripts/package-function.sh
 *
 * Context (-c key=value) overrides, for checkouts where the build outputs
 * are elsewhere or not built yet:
 *   otelAwsLayerZip       x86_64 layer zip
 *   otelAwsSidecarDir     directory with a Dockerfile as the sidecar's build context
 *   otelAwsSidecarImage   sidecar image URI instead of a build
 *   sampleFunctionCode    the function's code: a zip or a directory holding `bootstrap`
 *   sampleAppImage        application image for the Fargate service
 */
import * as fs from 'fs';
import { App, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { FlushStrategy, OtelAwsLambdaLayer, OtelAwsSidecar, defaultSampleFunctionZip, instrumentFunction } from '../lib';

class OtelAwsSampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const ctx = (key: string): string | undefined => this.node.tryGetContext(key);

    // Lambda: a Rust function (custom runtime) with the extension layer. Its
    // code is lambda-layer's otel-aws-test-function (lambda_runtime with the
    // otel-aws wrapper; invoke it with {"spans": 3} for three child spans).
    const layer = new OtelAwsLambdaLayer(this, 'OtelAwsLayer', {
      zipPaths: { x86_64: ctx('otelAwsLayerZip') },
    });
    const fn = new lambda.Function(this, 'RustFunction', {
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.X86_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(functionCode(ctx('sampleFunctionCode'))),
      memorySize: 256,
      // Lambda starts the trace (and takes the sampling decision) for each invoke.
      tracing: lambda.Tracing.ACTIVE,
    });
    instrumentFunction(fn, { layer, serviceName: 'otel-aws-sample-function', flush: FlushStrategy.end() });

    // ECS: a Fargate service whose application sends OTLP to the sidecar.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
    });
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', { cpu: 512, memoryLimitMiB: 1024 });
    const app = taskDefinition.addContainer('App', {
      containerName: 'app',
      image: ecs.ContainerImage.fromRegistry(ctx('sampleAppImage') ?? 'public.ecr.aws/docker/library/nginx:stable'),
      essential: true,
      memoryReservationMiB: 256,
      environment: { OTEL_SERVICE_NAME: 'otel-aws-sample-service' },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'app' }),
      portMappings: [{ containerPort: 80 }],
    });
    const sidecarDir: string | undefined = ctx('otelAwsSidecarDir');
    const sidecarImage: string | undefined = ctx('otelAwsSidecarImage');
    new OtelAwsSidecar(this, 'OtelAwsSidecar', {
      taskDefinition,
      image: sidecarImage ?? (sidecarDir ? OtelAwsSidecar.imageFromDirectory(sidecarDir) : undefined),
      applications: [app],
    });
    new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition,
      desiredCount: 1,
      minHealthyPercent: 100,
      circuitBreaker: { rollback: true },
      assignPublicIp: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    });
  }
}

/** The function's code: the override, or the zip package-function.sh builds. */
function functionCode(override: string | undefined): string {
  const code = override ?? defaultSampleFunctionZip();
  if (!fs.existsSync(code)) {
    throw new Error(
      `sample function code not found at ${code}: run \`bash cdk/scripts/package-function.sh\` at the repository root, or pass -c sampleFunctionCode=<zip or directory with bootstrap>`,
    );
  }
  return code;
}

const app = new App();
new OtelAwsSampleStack(app, 'OtelAwsSample', {
  description: 'otel-aws sample: Rust Lambda with the otel-aws layer, Fargate service with the otel-aws sidecar',
});
app.synth();
