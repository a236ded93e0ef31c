/**
 * Log lifecycle on the OpenSearch domain: the ISM policy deletes `logs-*` indices at the
 * environment's age, the template covers fluent-bit's indices, and the domain's health and the
 * databases' storage and CPU raise CloudWatch alarms on the alert topic.
 */
import { logRetentionPolicy } from "../../constructs/logging/log-domain";
import { environment, rejection, resourcesOf, synthEnvironment, synthShipped } from "../support/synth";

const opensearch = (stack: any, type: string) => Object.values(stack.resource?.[type] ?? {}) as any[];

describe("the log index lifecycle", () => {
  it("deletes logs-* indices at the configured age, after they were hot and then read-only", () => {
    const stack = synthShipped("prod").json["prod-post-install"];
    const [policy] = opensearch(stack, "opensearch_ism_policy");
    expect(policy.policy_id).toBe("logs-retention");
    const body = JSON.parse(policy.body).policy;
    expect(body.ism_template).toEqual([{ index_patterns: ["logs-*"], priority: 100 }]);
    const state = (name: string) => body.states.find((s: any) => s.name === name);
    expect(body.default_state).toBe("hot");
    expect(state("hot").transitions).toEqual([{ state_name: "warm", conditions: { min_index_age: "7d" } }]);
    expect(state("warm").actions).toEqual([{ read_only: {} }, { force_merge: { max_num_segments: 1 } }]);
    expect(state("warm").transitions).toEqual([{ state_name: "delete", conditions: { min_index_age: "30d" } }]);
    expect(state("delete").actions).toEqual([{ delete: {} }]);
    const [template] = opensearch(stack, "opensearch_composable_index_template");
    expect(JSON.parse(template.body).index_patterns).toEqual(["logs-*"]);
  });

  it("follows the environment's retention", () => {
    const env = environment("prod", (raw: any) => {
      raw.logging.hotDays = 3;
      raw.logging.indexRetentionDays = 90;
    });
    const stack = synthEnvironment(env).json["prod-post-install"];
    const body = JSON.parse(opensearch(stack, "opensearch_ism_policy")[0].body).policy;
    expect(body.states.map((s: any) => s.transitions[0]?.conditions.min_index_age)).toEqual(["3d", "90d", undefined]);
  });

  it("refuses a retention that does not outlast the hot period, in one sentence naming the field", () => {
    expect(rejection((raw) => (raw.logging = { ...raw.logging, hotDays: 30, indexRetentionDays: 30 }))).toMatch(/logging\.indexRetentionDays.*must be more than hotDays \(30\)/);
    expect(() => logRetentionPolicy(0, 10)).toThrow(/at least a day/);
  });
});

describe("CloudWatch alarms of the data services", () => {
  it("watch the OpenSearch domain's status, storage, memory, snapshots, master and write blocks, on the alert topic", () => {
    const stack = synthShipped("prod").json["prod-post-install"];
    const alarms = resourcesOf(stack, "aws_cloudwatch_metric_alarm").filter((a) => a.namespace === "AWS/ES");
    expect(alarms.map((a) => a.metric_name).sort()).toEqual(
      ["AutomatedSnapshotFailure", "ClusterIndexWritesBlocked", "ClusterStatus.red", "ClusterStatus.yellow", "FreeStorageSpace", "JVMMemoryPressure", "MasterReachableFromNode"].sort(),
    );
    for (const a of alarms) {
      expect(a.dimensions).toEqual({ DomainName: "prod-logs", ClientId: "111111111111" });
      expect(a.alarm_actions).toEqual([expect.stringMatching(/^\$\{data\.aws_sns_topic\.alerts-topic\.arn\}$/)]);
    }
    // A quarter of a 200 GiB data volume, in MiB (the metric's unit).
    expect(alarms.find((a) => a.metric_name === "FreeStorageSpace").threshold).toBe(51200);
  });

  it("watch every database's free storage and CPU", () => {
    const s = synthShipped("prod").json;
    for (const [stack, id] of [["prod-post-install", "prod-provisioner"], ["prod-workload-alpha", "prod-alpha-installations"]]) {
      const alarms = resourcesOf(s[stack], "aws_cloudwatch_metric_alarm").filter((a) => a.namespace === "AWS/RDS");
      expect(alarms.map((a) => [a.metric_name, a.dimensions.DBInstanceIdentifier]).sort()).toEqual([["CPUUtilization", id], ["FreeStorageSpace", id]]);
    }
  });
});
