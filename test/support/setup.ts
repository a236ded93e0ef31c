import "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";

// cdktf's matchers: toHaveResource, toHaveResourceWithProperties, toBeValidTerraform, ...
Testing.setupJest();

// The AWS SDK warns (once per worker) that its releases after January 2027 need Node 22: a note
// about future releases, not about this code. Its own switch turns off that warning only.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
