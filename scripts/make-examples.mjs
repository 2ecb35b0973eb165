#!/usr/bin/env node
/**
 * Generates the example batch: `examples/input_example.json` and the files under `examples/docs/`.
 *
 *   node scripts/make-examples.mjs
 *
 * The output is deterministic: every document draws its text from fixed sentence pools with a PRNG
 * (mulberry32) seeded from its own id, so the same script always writes the same bytes, and editing
 * one document does not change the others. No dependencies, no network, no clock.
 *
 * The batch deliberately contains:
 * - 3 exact duplicates (byte-identical copies of earlier entries, placed later in the array);
 * - 1 document whose `path` does not exist (`docs/missing/retired-policy.md`), the only one that fails;
 * - 1 `json` document whose content is malformed JSON (completed by the fallback path);
 * - 1 id with surrounding whitespace and 1 id with a combining character sequence;
 * - HTML documents whose <script> and <style> blocks hold the tokens SCRIPT_SHOULD_NOT_APPEAR and
 *   STYLE_SHOULD_NOT_APPEAR, which must never reach an indexed chunk;
 * - 1 text file with CRLF line endings.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const EXAMPLES_DIR = join(ROOT, "examples");
const DOCS_DIR = join(EXAMPLES_DIR, "docs");
const INPUT_FILE = join(EXAMPLES_DIR, "input_example.json");
const GLOBAL_SEED = 20240601;

// ---------------------------------------------------------------------------------------------------
// Deterministic randomness

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

class Rng {
  constructor(key) {
    this.next = mulberry32((fnv1a(key) ^ GLOBAL_SEED) >>> 0);
  }
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick(items) {
    return items[Math.floor(this.next() * items.length)];
  }
  chance(p) {
    return this.next() < p;
  }
  /**
   * Draws from `items` like from a shuffled deck kept in `memo`: no item repeats until every item of
   * the pool was used, and a new deck never starts with the item that ended the previous one.
   */
  draw(items, memo) {
    let deck = memo.get(items);
    if (deck === undefined || deck.pos >= deck.order.length) {
      const order = items.map((_, k) => k);
      for (let k = order.length - 1; k > 0; k--) {
        const j = Math.floor(this.next() * (k + 1));
        [order[k], order[j]] = [order[j], order[k]];
      }
      const last = deck?.order[deck.order.length - 1];
      if (order.length > 1 && order[0] === last) [order[0], order[1]] = [order[1], order[0]];
      deck = { order, pos: 0 };
      memo.set(items, deck);
    }
    return items[deck.order[deck.pos++]];
  }
}

/** A size in bytes, log-uniform between `min` and `max`. */
function logUniform(rng, min, max) {
  return Math.round(min * (max / min) ** rng.next());
}

const bytes = (text) => Buffer.byteLength(text, "utf8");

// ---------------------------------------------------------------------------------------------------
// Sentence pools. `{slot}` placeholders are filled from SLOTS.

const SLOTS = {
  plan: (r) => r.pick(["Starter", "Team", "Business", "Enterprise"]),
  planZh: (r) => r.pick(["入门版", "团队版", "商业版", "企业版"]),
  role: (r) => r.pick(["Owner", "Admin", "Billing manager"]),
  n: (r) => String(r.int(2, 9)),
  num: (r) => String(r.pick([60, 100, 120, 300, 600, 1000, 1200])),
  m: (r) => String(r.pick([32, 48, 64, 128, 200])),
  pct: (r) => String(r.pick([5, 10, 15, 20, 25, 30])),
  days: (r) => String(r.pick([7, 14, 30, 60, 90])),
  region: (r) => r.pick(["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-1"]),
  version: (r) => `4.${r.int(0, 9)}.${r.int(0, 12)}`,
  feature: (r) =>
    r.pick([
      "the billing dashboard",
      "document search",
      "the import wizard",
      "the member directory",
      "the audit log",
      "webhook settings",
      "the export page",
      "the SSO settings page",
      "comment threads",
      "the mobile app",
    ]),
  featureZh: (r) =>
    r.pick([
      "账单面板",
      "文档搜索",
      "导入向导",
      "成员目录",
      "审计日志",
      "通知设置",
      "导出页面",
      "评论",
      "移动端应用",
    ]),
};

function fill(template, rng) {
  const text = template.replace(/\{(\w+)\}/g, (whole, name) => (SLOTS[name] ? SLOTS[name](rng) : whole));
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const TOPICS = ["billing", "accounts", "api", "search", "storage", "integrations", "ops", "security"];

const TEAM_BY_TOPIC = {
  billing: "billing-ops",
  accounts: "identity",
  api: "platform",
  search: "search",
  storage: "platform",
  integrations: "partners",
  ops: "sre",
  security: "security",
};

const EN = {
  billing: [
    "Invoices are issued on the first day of each billing period and are available under Settings > Billing > Invoices.",
    "The {plan} plan is billed per active seat, and seats added in the middle of a cycle are prorated to the day.",
    "If a card payment fails, the charge is retried after {n} days and every {role} receives a reminder.",
    "Annual subscriptions receive a discount of {pct} percent compared with monthly billing.",
    "Refunds for unused seats are credited to the account balance rather than to the original payment method.",
    "Tax is calculated from the billing address, so check the country and postal code before the invoice closes.",
    "Only members with the {role} role can change the payment method or download past invoices.",
    "Usage-based charges, such as extra storage or API calls above the included quota, appear as separate line items.",
    "Downgrading from the {plan} plan takes effect at the end of the current period, and no partial refund is issued.",
    "Purchase orders are supported for Enterprise customers who pay by bank transfer on net {days} terms.",
    "Credit notes are generated automatically when an invoice is corrected after it was sent.",
    "The billing dashboard shows the projected cost of the current month based on usage to date.",
    "The currency is fixed when the subscription is created and can only be changed by the support team.",
    "A charge that appears twice is usually a temporary authorization that disappears within {n} business days.",
  ],
  accounts: [
    "Single sign-on is available on the {plan} plan and supports SAML 2.0 and OpenID Connect.",
    "When SSO is enforced, members can no longer sign in with a password, but the workspace Owner keeps a recovery login.",
    "SCIM provisioning creates, updates and deactivates users from your identity provider within a few minutes.",
    "Two-factor authentication can be required for every member from the Security tab.",
    "Password reset links expire after {num} minutes and can be used only once.",
    "A deactivated user keeps their content, and an Admin can transfer ownership to another member.",
    "Sessions expire after {days} days of inactivity; Admins can shorten this limit to match their own policy.",
    "The {role} role can invite new members, while Viewers can only read shared content.",
    "Upload the new identity provider certificate before removing the old one, or sign-in will stop working.",
    "Login attempts are rate limited, and after {n} failed attempts the account is locked for fifteen minutes.",
    "Guest accounts do not count toward the seat limit but cannot create projects.",
    "Domain verification requires a TXT record, which usually propagates within an hour.",
    "Members who belong to several workspaces can switch between them without signing in again.",
  ],
  api: [
    "All API requests must include a bearer token in the Authorization header.",
    "The default rate limit is {num} requests per minute per token, and every response includes the X-RateLimit-Remaining header.",
    "When the limit is exceeded, the API returns status 429 with a Retry-After header that clients should honor.",
    "List endpoints are paginated with an opaque cursor; clients should never build cursors themselves.",
    "Webhooks are signed with HMAC-SHA256, and the signature is sent in the X-Signature header.",
    "Failed webhook deliveries are retried with exponential backoff for up to {n} hours.",
    "API version {version} deprecates the legacy /v1/export endpoint, which will be removed after a six-month notice period.",
    "Idempotency keys let clients retry POST requests safely, because a repeated key returns the original response.",
    "Tokens can be scoped to read-only access, which is recommended for reporting integrations.",
    "Timestamps in responses use ISO 8601 in UTC.",
    "The SDKs for TypeScript, Python and Go handle pagination and retries for you.",
    "Errors share a consistent shape with a machine-readable code and a human-readable message.",
    "Requests larger than {n} MB are rejected with status 413.",
  ],
  search: [
    "New documents become searchable within a few seconds after they are indexed.",
    "Search results are ranked by a combination of keyword relevance and semantic similarity.",
    "Filters on metadata fields such as team, language or document type narrow the results before ranking.",
    "Long documents are split into overlapping chunks so that each passage can be retrieved on its own.",
    "Content inside script and style tags is ignored by the indexer.",
    "Reindexing a collection does not change document identifiers or break existing links.",
    "Synonyms can be configured per workspace, for example to treat invoice and bill as equivalent.",
    "Chinese text is segmented before indexing, so queries do not need spaces between words.",
    "The index keeps a hash of each document, and unchanged documents are skipped on the next import.",
    "Queries longer than {num} characters are truncated.",
    "Answers generated from search results always cite the passages they were drawn from.",
    "Deleted documents are removed from the index within {n} minutes.",
    "Exact phrases can be searched by wrapping them in double quotes.",
  ],
  storage: [
    "Workspace exports include all documents, comments and attachments in a single archive.",
    "Exports larger than {n} GB are split into several parts that can be downloaded separately.",
    "Deleted items stay in the trash for {days} days before they are permanently removed.",
    "Backups are encrypted at rest and copied to a second region for disaster recovery.",
    "Data residency can be set to {region} when the workspace is created.",
    "Audit logs are retained for one year on the Enterprise plan and for {days} days on other plans.",
    "Attachments are scanned for malware before they become available to other members.",
    "Retention policies can delete content automatically after a period that you choose.",
    "Legal holds override retention policies until the hold is released.",
    "The storage quota includes file versions, so pruning old versions frees space.",
    "Restoring a folder from the trash also restores the documents it contained.",
  ],
  integrations: [
    "The Slack integration posts a message to a channel whenever a document in a watched folder changes.",
    "Connecting Google Drive imports files as read-only copies that refresh every hour.",
    "Zapier triggers are available for new documents, new comments and status changes.",
    "An integration acts on behalf of the user who installed it, so its access is limited to that user's permissions.",
    "If an integration stops syncing, reconnect it from Settings > Integrations to refresh its token.",
    "Jira issues can be linked to documents, and the issue status is shown inline.",
    "Outgoing webhooks are the recommended way to build a custom integration.",
    "Microsoft Teams notifications can be limited to mentions only.",
    "Imports from Confluence keep the page hierarchy, attachments and labels.",
    "Only Admins can install integrations that access the whole workspace.",
    "Each integration shows the time of its last successful sync on its settings page.",
  ],
  ops: [
    "The worker pool scales between {n} and {m} instances based on queue depth.",
    "Deployments roll out region by region, starting with {region}.",
    "Every release is gated on the canary error rate staying below {pct} percent for thirty minutes.",
    "Database migrations must be backward compatible with the previous release so that a rollback is always possible.",
    "The on-call engineer acknowledges pages within fifteen minutes.",
    "Runbooks live next to the service code and are reviewed every quarter.",
    "A circuit breaker opens after repeated failures of the embedding service and closes again once a probe succeeds.",
    "Batch jobs checkpoint their progress, so a restarted worker resumes instead of starting over.",
    "Leases on queued work expire after {num} seconds, after which another worker can claim the item.",
    "Metrics are exported in Prometheus format and scraped every fifteen seconds.",
    "Log lines are structured JSON and include the request id, so one request can be traced across services.",
    "The database accepts at most {m} connections in total, so connection pools are sized per instance.",
    "Failover to the replica takes about {n} seconds and starts automatically when the primary stops responding.",
    "Load tests run nightly against a staging copy of production data with personal information removed.",
  ],
  security: [
    "Access to production systems requires a hardware security key, and every session is logged.",
    "Customer data is encrypted in transit with TLS 1.2 or later and at rest with AES-256.",
    "Security incidents are reported to affected customers within 72 hours of confirmation.",
    "Employees complete security training when they join and every year after that.",
    "Vulnerability reports receive a first response within {n} business days.",
    "Penetration tests are performed by an independent firm at least once a year.",
    "Access reviews are carried out every quarter, and unused permissions are revoked.",
    "Subprocessors are listed on the trust page, and customers are notified thirty days before a new one is added.",
    "Personal data is processed only for the purposes described in the privacy policy.",
    "Customers can request a copy of their personal data, or its deletion, at any time.",
    "Passwords are hashed with a memory-hard algorithm and are never stored in plain text.",
    "Sharing links can be restricted to members of verified domains.",
  ],
};

const EN_GENERIC = [
  "In most cases no action is required.",
  "Contact support if the problem persists.",
  "See the related articles at the end of this page for details.",
  "This behavior changed in version {version}.",
  "The same rules apply to workspaces created through the API.",
  "Changes are recorded in the audit log together with the member who made them.",
  "Administrators can review the current setting at any time.",
];

const EN_QUESTIONS = {
  billing: [
    "How do I download an invoice?",
    "Why was I charged twice?",
    "Can I switch from monthly to annual billing?",
    "What happens when a payment fails?",
    "How are seats added mid-cycle billed?",
  ],
  accounts: [
    "How do I enforce single sign-on?",
    "What happens to the content of a deactivated user?",
    "Why is my account locked?",
    "Can guests create projects?",
    "How long does domain verification take?",
  ],
  api: [
    "What does status 429 mean?",
    "How do I verify a webhook signature?",
    "Can I retry a POST request safely?",
    "Which SDKs are available?",
    "How long are failed webhooks retried?",
  ],
  search: [
    "Why can I not find a document I just uploaded?",
    "Is text inside scripts indexed?",
    "Do Chinese queries need spaces?",
    "How are results ranked?",
    "Can I search for an exact phrase?",
  ],
  storage: [
    "How long do deleted items stay in the trash?",
    "Where is my data stored?",
    "How do I export the whole workspace?",
    "Do file versions count toward the quota?",
    "What is a legal hold?",
  ],
  integrations: [
    "Why did the Slack integration stop posting?",
    "Can I limit Teams notifications to mentions?",
    "Who can install integrations?",
    "Does the Confluence import keep attachments?",
    "How often does Google Drive sync?",
  ],
  ops: [
    "What happens when a worker crashes in the middle of a batch?",
    "How fast is replica failover?",
    "Who approves a database migration?",
    "When does the circuit breaker close again?",
    "How are releases rolled out?",
  ],
  security: [
    "How is customer data encrypted?",
    "How do I report a vulnerability?",
    "How quickly are incidents disclosed?",
    "Can I request deletion of my personal data?",
    "How often are access reviews performed?",
  ],
};

const ZH = {
  billing: [
    "账单在每个计费周期的第一天生成，可以在“设置 > 账单 > 发票”中查看。",
    "{planZh}按活跃席位计费，周期中途新增的席位按天折算。",
    "如果信用卡扣款失败，系统会在 {n} 天后自动重试，并通知所有管理员。",
    "按年订阅可享受 {pct}% 的折扣！",
    "未使用席位的退款会计入账户余额，而不会退回原支付方式。",
    "为什么会被重复扣款？通常第一笔只是预授权，会在 {n} 个工作日内自动撤销。",
    "税额根据账单地址计算，请在发票关闭前确认国家和邮编填写正确。",
    "只有“账单管理员”角色可以更换支付方式或下载历史发票。",
    "超出套餐额度的存储空间和 API 调用会作为单独的明细列出。",
    "降级会在当前周期结束时生效，不会按比例退款。",
    "企业客户可以使用采购订单，并通过银行转账付款。",
    "可以开具增值税专用发票吗？可以，请在账单设置中填写完整的开票信息。",
  ],
  accounts: [
    "单点登录（SSO）支持 SAML 2.0 和 OpenID Connect 协议。",
    "启用强制 SSO 后，成员将无法使用密码登录，但所有者仍保留一个应急登录入口。",
    "通过 SCIM，身份提供商中的用户变更会在几分钟内同步到工作区。",
    "管理员可以在“安全”页面要求所有成员开启双重验证。",
    "密码重置链接在 {num} 分钟后失效，并且只能使用一次。",
    "连续 {n} 次登录失败后，账号会被锁定十五分钟。",
    "忘记密码怎么办？在登录页点击“忘记密码”，按照邮件中的提示操作即可。",
    "停用的用户不会丢失内容，管理员可以将其文档转移给其他成员。",
    "访客账号不占用席位，但不能创建项目。",
    "域名验证需要添加一条 TXT 记录，通常一小时内生效。",
    "请注意：证书即将过期时，务必先上传新证书，再删除旧证书！",
  ],
  api: [
    "所有 API 请求都必须在 Authorization 头中携带 Bearer Token。",
    "默认限流为每个 Token 每分钟 {num} 次请求。",
    "超过限制时，接口返回 429 状态码，并附带 Retry-After 头。",
    "列表接口使用游标分页，请不要自行拼接游标。",
    "Webhook 使用 HMAC-SHA256 签名，签名放在 X-Signature 头中。",
    "Webhook 投递失败后会以指数退避的方式重试，最长持续 {n} 小时。",
    "为什么会收到重复的 Webhook？请根据投递 ID 去重，接收端应保证幂等。",
    "使用幂等键可以安全地重试 POST 请求。",
    "建议为报表类集成创建只读 Token。",
    "官方 SDK 已封装分页与重试逻辑，支持 TypeScript、Python 和 Go。",
    "错误响应包含机器可读的错误码和便于阅读的说明。",
  ],
  search: [
    "新文档在索引完成后几秒钟内即可被搜索到。",
    "搜索结果综合关键词相关度和语义相似度进行排序。",
    "中文文本在索引前会先分词，因此查询时无需在词语之间加空格。",
    "较长的文档会被切分为相互重叠的片段，每个片段都可以单独召回。",
    "脚本和样式标签中的内容不会被索引。",
    "未发生变化的文档在下一次导入时会被跳过。",
    "可以按团队、语言或文档类型等元数据字段筛选结果。",
    "删除的文档会在 {n} 分钟内从索引中移除。",
    "搜不到刚上传的文件？请确认文件格式受支持，并检查导入任务是否已完成。",
    "基于搜索结果生成的回答会注明引用的段落。",
  ],
  storage: [
    "工作区导出包含全部文档、评论和附件。",
    "超过 {n} GB 的导出文件会被拆分成多个部分。",
    "回收站中的内容会保留 {days} 天，之后将被永久删除。",
    "备份在静态存储时加密，并在另一个地域保留副本。",
    "创建工作区时可以选择数据存放地域，例如 {region}。",
    "企业版的审计日志保留一年。",
    "附件在对其他成员可见之前会经过恶意软件扫描。",
    "法律保留会暂停保留策略，直到保留解除为止。",
    "删除的文件还能找回吗？在保留期内可以从回收站恢复。",
    "存储配额包含文件的历史版本，清理旧版本可以释放空间。",
  ],
  integrations: [
    "Slack 集成会在关注的文件夹发生变化时向频道发送消息。",
    "连接 Google Drive 后，文件会以只读副本的形式导入，每小时刷新一次。",
    "集成以安装者的身份运行，其访问范围受该用户权限限制。",
    "如果集成停止同步，请在“设置 > 集成”中重新连接以刷新授权。",
    "从 Confluence 导入时会保留页面层级、附件和标签。",
    "只有管理员可以安装访问整个工作区的集成。",
    "企业微信和钉钉通知可以设置为仅在被提及时发送。",
    "每个集成的设置页都会显示最近一次成功同步的时间。",
  ],
  ops: [
    "工作进程根据队列长度在 {n} 到 {m} 个实例之间自动伸缩。",
    "发布按地域逐步进行，先从 {region} 开始。",
    "数据库迁移必须兼容上一个版本，以确保随时可以回滚。",
    "批处理任务会保存检查点，进程重启后从中断处继续，而不是从头开始。",
    "嵌入服务连续失败时熔断器会打开，探测成功后再恢复。",
    "任务租约在 {num} 秒后过期，届时其他工作进程可以接手。",
    "日志采用结构化 JSON 格式，并包含请求 ID。",
    "主库故障时，系统会在约 {n} 秒内自动切换到副本。",
    "值班工程师需要在十五分钟内确认告警！",
    "为什么要保存检查点？因为大批量任务中断后从头重跑的成本很高。",
  ],
  security: [
    "访问生产系统需要硬件安全密钥，所有操作均有日志记录。",
    "客户数据在传输过程中使用 TLS 1.2 及以上版本加密，静态存储使用 AES-256 加密。",
    "确认安全事件后，我们会在 72 小时内通知受影响的客户。",
    "员工入职时以及此后每年都需要完成安全培训。",
    "每季度进行一次权限审查，回收不再使用的权限。",
    "客户可以随时申请导出或删除其个人数据。",
    "密码使用抗内存攻击的算法进行哈希，绝不以明文保存。",
    "发现漏洞怎么办？请发送邮件至安全团队，我们会在 {n} 个工作日内回复。",
    "分享链接可以限制为仅允许已验证域名的成员访问。",
  ],
};

const ZH_GENERIC = [
  "大多数情况下无需任何操作。",
  "如问题仍然存在，请联系技术支持。",
  "该行为自 {version} 版本起有所调整。",
  "更多信息请参阅本页末尾的相关文章。",
  "所有变更都会记录在审计日志中！",
  "管理员可以随时查看当前设置。",
];

const ZH_QUESTIONS = {
  billing: [
    "如何下载发票？",
    "为什么被重复扣款？",
    "可以从月付改为年付吗？",
    "扣款失败会怎样？",
    "可以开具专用发票吗？",
  ],
  accounts: [
    "如何强制启用 SSO？",
    "账号为什么被锁定？",
    "停用成员后文档会丢失吗？",
    "访客可以创建项目吗？",
    "忘记密码怎么办？",
  ],
  api: [
    "返回 429 是什么意思？",
    "如何校验 Webhook 签名？",
    "POST 请求可以重试吗？",
    "有哪些官方 SDK？",
    "Webhook 会重试多久？",
  ],
  search: [
    "为什么搜不到刚上传的文档？",
    "脚本里的文字会被索引吗？",
    "中文查询需要加空格吗？",
    "搜索结果如何排序？",
    "可以精确匹配短语吗？",
  ],
  storage: [
    "回收站的内容保留多久？",
    "数据存放在哪里？",
    "如何导出整个工作区？",
    "历史版本占用配额吗？",
    "什么是法律保留？",
  ],
  integrations: [
    "Slack 集成为什么不再发消息？",
    "谁可以安装集成？",
    "Confluence 导入会保留附件吗？",
    "Google Drive 多久同步一次？",
    "可以只在被提及时通知吗？",
  ],
  ops: [
    "工作进程崩溃后任务会丢失吗？",
    "主备切换需要多久？",
    "熔断器什么时候恢复？",
    "发布是如何进行的？",
    "数据库迁移需要谁审批？",
  ],
  security: [
    "客户数据如何加密？",
    "如何报告安全漏洞？",
    "安全事件多久会通知客户？",
    "可以申请删除个人数据吗？",
    "权限审查多久进行一次？",
  ],
};

const EN_TITLES = {
  billing: [
    "Understanding your invoice",
    "Changing your payment method",
    "How proration works",
    "Billing for administrators",
    "Usage-based charges explained",
    "Annual and monthly plans",
    "Taxes and billing addresses",
    "Failed payments and retries",
  ],
  accounts: [
    "Setting up single sign-on",
    "Managing member roles",
    "Two-factor authentication",
    "SCIM provisioning with Okta",
    "Deactivating and removing users",
    "Session and login policies",
    "Verifying your company domain",
    "Guest access",
  ],
  api: [
    "API authentication",
    "Rate limits and retries",
    "Pagination with cursors",
    "Verifying webhook signatures",
    "Idempotent requests",
    "Error codes reference",
    "Using the TypeScript SDK",
    "Migrating from API v1",
  ],
  search: [
    "How search ranking works",
    "Filtering by metadata",
    "Indexing long documents",
    "Searching Chinese content",
    "Configuring synonyms",
    "Why a document is not found",
    "Answer citations",
    "Reindexing a collection",
  ],
  storage: [
    "Exporting your workspace",
    "Trash and recovery",
    "Data residency options",
    "Backups and disaster recovery",
    "Retention policies",
    "Legal holds",
    "Storage quotas and file versions",
    "Attachment scanning",
  ],
  integrations: [
    "Slack integration",
    "Connecting Google Drive",
    "Zapier triggers and actions",
    "Linking Jira issues",
    "Importing from Confluence",
    "Microsoft Teams notifications",
    "Troubleshooting integrations",
    "Building a custom integration",
  ],
  ops: [
    "Worker autoscaling",
    "Release process",
    "Database migration guidelines",
    "On-call handbook",
    "Checkpointing batch jobs",
    "Circuit breaker for the embedding service",
    "Structured logging conventions",
    "Replica failover",
  ],
  security: [
    "Security overview",
    "Encryption in transit and at rest",
    "Incident response",
    "Access reviews",
    "Vulnerability disclosure",
    "Subprocessor changes",
    "Personal data requests",
    "Sharing restrictions",
  ],
};

const ZH_TITLES = {
  billing: ["了解您的账单", "更换支付方式", "席位折算规则", "账单常见问题", "按量计费说明", "发票与开票信息"],
  accounts: ["配置单点登录", "成员角色管理", "开启双重验证", "SCIM 用户同步", "停用与删除成员", "域名验证"],
  api: ["API 鉴权", "限流与重试", "游标分页", "Webhook 签名校验", "幂等请求", "SDK 使用指南"],
  search: ["搜索排序原理", "按元数据筛选", "长文档索引", "中文搜索说明", "找不到文档怎么办", "重建索引"],
  storage: ["导出工作区", "回收站与恢复", "数据存放地域", "备份与容灾", "保留策略", "存储配额"],
  integrations: [
    "Slack 集成",
    "连接 Google Drive",
    "企业微信与钉钉通知",
    "从 Confluence 导入",
    "集成故障排查",
    "自定义集成",
  ],
  ops: ["工作进程伸缩说明", "发布流程", "数据库迁移规范", "值班手册", "批处理检查点", "主备切换"],
  security: ["安全概览", "数据加密", "安全事件响应", "权限审查", "漏洞报告", "个人数据请求"],
};

const EN_HEADINGS = [
  "Overview",
  "Before you begin",
  "Steps",
  "Limits",
  "Troubleshooting",
  "Details",
  "Examples",
  "Known issues",
  "Permissions",
  "Frequently asked questions",
];
const ZH_HEADINGS = [
  "概述",
  "准备工作",
  "操作步骤",
  "使用限制",
  "故障排查",
  "详细说明",
  "示例",
  "已知问题",
  "权限说明",
  "常见问题",
];

const RELEASE_EN = {
  Added: [
    "Added bulk export of documents as Markdown.",
    "Added SCIM group sync for Okta and Azure AD.",
    "Added Chinese and Japanese segmentation to the search index.",
    "Added a delivery id to every webhook payload for deduplication.",
    "Added read-only API tokens for reporting integrations.",
    "Added per-workspace synonym lists to {feature}.",
    "Added a projected monthly cost to the billing dashboard.",
    "Added legal holds for Enterprise workspaces.",
  ],
  Fixed: [
    "Fixed an issue where {feature} did not load for members with the Viewer role.",
    "Fixed incorrect proration on invoices after a mid-cycle downgrade.",
    "Fixed a crash when importing HTML files with unclosed tags.",
    "Fixed time zone handling in weekly digests.",
    "Fixed duplicate notifications when a document was moved between folders.",
    "Fixed a rare case where {feature} showed stale results after a reindex.",
    "Fixed the Retry-After header value for rate-limited requests.",
  ],
  Changed: [
    "{feature} now loads up to {pct} percent faster.",
    "Reduced memory usage of the import worker by about {pct} percent.",
    "Webhook retries now back off exponentially for up to {n} hours.",
    "The default session lifetime is now {days} days.",
    "Search now ranks recently updated documents slightly higher.",
    "Improved error messages for invalid SAML responses.",
  ],
  Deprecated: [
    "Deprecated the legacy /v1/export endpoint; it will be removed after a six-month notice period.",
    "Deprecated the classic editor, which remains available until the next major release.",
  ],
};

const RELEASE_ZH = {
  新增: [
    "新增 Markdown 格式的批量导出。",
    "新增 Okta 与 Azure AD 的 SCIM 分组同步。",
    "新增中文和日文分词，搜索更准确！",
    "Webhook 负载新增投递 ID，便于去重。",
    "{featureZh}新增按工作区配置的同义词。",
  ],
  修复: [
    "修复了只读成员无法打开{featureZh}的问题。",
    "修复了周期中途降级后发票折算错误的问题。",
    "修复了导入含未闭合标签的 HTML 文件时崩溃的问题。",
    "修复了每周摘要中的时区错误。",
    "修复了重建索引后{featureZh}偶尔显示旧结果的问题。",
  ],
  改进: [
    "{featureZh}的加载速度提升约 {pct}%。",
    "导入进程的内存占用降低约 {pct}%。",
    "SAML 响应无效时的错误提示更加清晰。",
    "默认会话有效期调整为 {days} 天。",
  ],
};

const CODE_SNIPPETS = [
  {
    lang: "bash",
    body: [
      'curl -s -H "Authorization: Bearer $LARKSPUR_TOKEN" \\',
      '  "https://api.larkspur.example/v2/documents?limit=50&cursor=$CURSOR"',
    ].join("\n"),
  },
  {
    lang: "ts",
    body: [
      'import { createHmac, timingSafeEqual } from "node:crypto";',
      "",
      "export function verifySignature(body: string, header: string, secret: string): boolean {",
      '  const expected = createHmac("sha256", secret).update(body).digest("hex");',
      "  return header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected));",
      "}",
    ].join("\n"),
  },
  {
    lang: "yaml",
    body: [
      "worker:",
      "  concurrency: 8",
      "  lease_seconds: 60",
      "  checkpoint_every: 50",
      "breaker:",
      "  failure_threshold: 5",
      "  open_seconds: 30",
    ].join("\n"),
  },
  {
    lang: "json",
    body: [
      "{",
      '  "event": "document.updated",',
      '  "delivery_id": "dlv_01HZX3K9Q2",',
      '  "document": { "id": "doc_8841", "title": "Refund policy" },',
      '  "occurred_at": "2024-05-14T09:21:07Z"',
      "}",
    ].join("\n"),
  },
  {
    lang: "python",
    body: [
      "cursor = None",
      "while True:",
      "    page = client.documents.list(limit=100, cursor=cursor)",
      "    for doc in page.items:",
      "        handle(doc)",
      "    if not page.next_cursor:",
      "        break",
      "    cursor = page.next_cursor",
    ].join("\n"),
  },
  {
    lang: "sql",
    body: [
      "SELECT actor, action, created_at",
      "FROM audit_log",
      "WHERE workspace_id = $1 AND created_at > now() - interval '7 days'",
      "ORDER BY created_at DESC",
      "LIMIT 100;",
    ].join("\n"),
  },
];

// ---------------------------------------------------------------------------------------------------
// Text builders

/** Sentences for one paragraph. `lang`: "en", "zh" or "mixed" (Chinese with some English sentences). */
function sentences(ctx, topic, count) {
  const { rng, lang, memo } = ctx;
  const out = [];
  for (let i = 0; i < count; i++) {
    const english = lang === "en" || (lang === "mixed" && rng.chance(0.3));
    const pool = english ? EN[topic] : ZH[topic];
    const generic = english ? EN_GENERIC : ZH_GENERIC;
    const sentence = fill(rng.draw(rng.chance(0.12) ? generic : pool, memo), rng);
    out.push({ text: sentence, english });
  }
  return out;
}

function joinSentences(parts) {
  let text = "";
  for (const part of parts) {
    if (text === "") text = part.text;
    else if (part.english || /[A-Za-z0-9.]$/.test(text)) text += ` ${part.text}`;
    else text += part.text;
  }
  return text;
}

function paragraph(ctx, topic, min = 3, max = 6) {
  return joinSentences(sentences(ctx, topic, ctx.rng.int(min, max)));
}

function sentence(ctx, topic) {
  return paragraph(ctx, topic, 1, 1);
}

function heading(ctx) {
  return ctx.rng.draw(ctx.lang === "en" ? EN_HEADINGS : ZH_HEADINGS, ctx.memo);
}

function question(ctx, topic) {
  return ctx.rng.draw((ctx.lang === "en" ? EN_QUESTIONS : ZH_QUESTIONS)[topic], ctx.memo);
}

/** Appends blocks (at least one) until the joined text reaches `target` bytes. */
function grow(target, header, nextBlock, separator = "\n\n") {
  const blocks = [header];
  let size = bytes(header);
  for (let i = 0; i === 0 || size < target; i++) {
    const block = nextBlock(i);
    blocks.push(block);
    size += bytes(block) + bytes(separator);
  }
  return blocks.join(separator);
}

function buildText(ctx) {
  const { title, topics, target, kind } = ctx;
  const zh = ctx.lang !== "en";
  return `${grow(target, title, (i) => {
    const topic = topics[i % topics.length];
    if (kind === "faq") {
      const q = question(ctx, topic);
      return zh
        ? `问：${q}\n答：${paragraph(ctx, topic, 2, 4)}`
        : `Q: ${q}\nA: ${paragraph(ctx, topic, 2, 4)}`;
    }
    if (i > 0 && i % 4 === 0) return `${i / 4}. ${heading(ctx)}\n\n${paragraph(ctx, topic)}`;
    return paragraph(ctx, topic);
  })}\n`;
}

function markdownList(ctx, topic, ordered) {
  const { rng } = ctx;
  const count = rng.int(3, 5);
  const lines = [];
  for (let i = 0; i < count; i++) {
    lines.push(`${ordered ? `${i + 1}.` : "-"} ${sentence(ctx, topic)}`);
    if (!ordered && rng.chance(0.35)) {
      for (let j = 0, n = rng.int(2, 3); j < n; j++) lines.push(`  - ${sentence(ctx, topic)}`);
    }
  }
  return lines.join("\n");
}

function markdownCode(ctx) {
  const snippet = ctx.rng.draw(CODE_SNIPPETS, ctx.memo);
  return `\`\`\`${snippet.lang}\n${snippet.body}\n\`\`\``;
}

function markdownSection(ctx, topic, i) {
  const { rng } = ctx;
  const zh = ctx.lang !== "en";
  const parts = [`## ${heading(ctx)}`, paragraph(ctx, topic)];
  if (i === 0 || rng.chance(0.45)) parts.push(markdownList(ctx, topic, false));
  if (rng.chance(0.3)) parts.push(paragraph(ctx, topic));
  if (i === 0 || rng.chance(0.3)) {
    parts.push(zh ? "示例：" : "Example:");
    parts.push(markdownCode(ctx));
  }
  if (rng.chance(0.25)) parts.push(markdownList(ctx, topic, true));
  if (rng.chance(0.15)) parts.push(`> ${zh ? "注意：" : "**Note:**"} ${sentence(ctx, topic)}`);
  if (rng.chance(0.2)) {
    const label = zh ? "| 套餐 | 说明 |\n| --- | --- |" : "| Plan | Notes |\n| --- | --- |";
    const rows = ["Starter", "Team", "Business", "Enterprise"].map(
      (p) => `| ${p} | ${sentence(ctx, topic)} |`,
    );
    parts.push(`${label}\n${rows.join("\n")}`);
  }
  if (ctx.kind === "faq") {
    parts.length = 1;
    for (let k = 0, n = rng.int(2, 3); k < n; k++)
      parts.push(`### ${question(ctx, topic)}`, paragraph(ctx, topic, 2, 4));
    if (i === 0) parts.push(markdownList(ctx, topic, false), markdownCode(ctx));
  }
  return parts.join("\n\n");
}

function buildMarkdown(ctx) {
  const { title, topics, target } = ctx;
  const intro = paragraph(ctx, topics[0], 2, 4);
  return `${grow(target, `# ${title}\n\n${intro}`, (i) => markdownSection(ctx, topics[i % topics.length], i))}\n`;
}

/**
 * Release notes: the minor release and its patch releases. The number of patch releases depends on
 * the version only, so the English and Chinese pages of one release list the same versions.
 */
function buildReleaseNotes(ctx) {
  const { rng, title } = ctx;
  const zh = ctx.lang !== "en";
  const groups = zh ? RELEASE_ZH : RELEASE_EN;
  const names = Object.keys(groups);
  const [, major, minor] = title.match(/(\d+)\.(\d+)\.0/);
  const intro = zh
    ? "本页列出该版本及其补丁版本的新增功能、问题修复和改进。升级无需停机！"
    : "This page lists the additions, fixes and changes of this release and its patch releases. No downtime is required to upgrade.";
  const releases = new Rng(`patches:${major}.${minor}`).int(2, 5);
  const blocks = [`# ${title}`, intro];
  for (let i = 0; i < releases; i++) {
    const date = new Date(Date.UTC(2024, Number(minor) - 1, 2 + i * 5)).toISOString().slice(0, 10);
    const sections = [`## ${major}.${minor}.${i} (${date})`];
    // The first release of the page has every group; patch releases mostly fix things.
    const used = i === 0 ? names : names.filter((_name, k) => k === 1 || rng.chance(0.3));
    for (const name of used) {
      const items = [];
      const picked = new Set();
      for (let k = 0, n = Math.min(groups[name].length, rng.int(2, 4)); k < n; k++) {
        let item = rng.draw(groups[name], ctx.memo);
        while (picked.has(item)) item = rng.draw(groups[name], ctx.memo);
        picked.add(item);
        items.push(`- ${fill(item, rng)}`);
      }
      sections.push(`### ${name}\n\n${items.join("\n")}`);
    }
    blocks.push(sections.join("\n\n"));
  }
  return `${blocks.join("\n\n")}\n`;
}

function escapeHtml(text) {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

function htmlList(ctx, topic, ordered) {
  const { rng } = ctx;
  const tag = ordered ? "ol" : "ul";
  const items = [];
  for (let i = 0, n = rng.int(3, 5); i < n; i++) {
    let item = `  <li>${escapeHtml(sentence(ctx, topic))}`;
    if (!ordered && (i === 1 || rng.chance(0.2))) {
      const sub = [];
      for (let j = 0, n = rng.int(2, 3); j < n; j++)
        sub.push(`      <li>${escapeHtml(sentence(ctx, topic))}</li>`);
      item += `\n    <ul>\n${sub.join("\n")}\n    </ul>\n  `;
    }
    items.push(`${item}</li>`);
  }
  return `<${tag}>\n${items.join("\n")}\n</${tag}>`;
}

function htmlSection(ctx, topic, i) {
  const { rng } = ctx;
  const zh = ctx.lang !== "en";
  const parts = [
    `<section>`,
    `<h2>${escapeHtml(heading(ctx))}</h2>`,
    `<p>${escapeHtml(paragraph(ctx, topic))}</p>`,
  ];
  if (i === 0) {
    parts.push(
      zh
        ? '<p class="callout">提示：模板中可以使用 <code>&lt;workspace&gt;</code> 占位符&nbsp;&mdash;&nbsp;例如 <code>https://&lt;workspace&gt;.larkspur.example</code>。“研发 &amp; 运维”团队默认拥有该权限。</p>'
        : '<p class="callout">Tip: use the <code>&lt;workspace&gt;</code> placeholder in templates&nbsp;&mdash; for example <code>https://&lt;workspace&gt;.larkspur.example</code>. The R&amp;D and Sales &amp; Marketing groups have this permission by default, and &quot;Viewer&quot; members don&#39;t.</p>',
    );
  }
  if (i === 0 || rng.chance(0.5)) parts.push(htmlList(ctx, topic, false));
  if (rng.chance(0.3)) parts.push(htmlList(ctx, topic, true));
  if (rng.chance(0.35)) parts.push(`<p>${escapeHtml(paragraph(ctx, topic))}</p>`);
  if (rng.chance(0.2)) {
    const snippet = rng.draw(CODE_SNIPPETS, ctx.memo);
    parts.push(`<pre><code class="language-${snippet.lang}">${escapeHtml(snippet.body)}</code></pre>`);
  }
  if (rng.chance(0.15)) {
    const rows = ["Starter", "Team", "Business", "Enterprise"]
      .map((p) => `    <tr><td>${p}</td><td>${escapeHtml(sentence(ctx, topic))}</td></tr>`)
      .join("\n");
    const head = zh ? "<tr><th>套餐</th><th>说明</th></tr>" : "<tr><th>Plan</th><th>Notes</th></tr>";
    parts.push(`<table>\n  <thead>${head}</thead>\n  <tbody>\n${rows}\n  </tbody>\n</table>`);
  }
  parts.push("</section>");
  return parts.join("\n");
}

function buildHtml(ctx) {
  const { title, topics, target } = ctx;
  const zh = ctx.lang !== "en";
  const head = [
    "<!DOCTYPE html>",
    `<html lang="${zh ? "zh-CN" : "en"}">`,
    "<head>",
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)} &middot; Larkspur ${zh ? "帮助中心" : "Help Center"}</title>`,
    "<style>",
    "  /* STYLE_SHOULD_NOT_APPEAR */",
    "  body { font-family: system-ui, sans-serif; line-height: 1.5; }",
    "  .callout { border-left: 4px solid #3b82f6; padding: 0 1em; }",
    '  .callout::before { content: "STYLE_SHOULD_NOT_APPEAR SCRIPT_SHOULD_NOT_APPEAR"; display: none; }',
    "</style>",
    "<script>",
    '  window.__analytics = { site: "SCRIPT_SHOULD_NOT_APPEAR", sampleRate: 0.1 };',
    "  if (window.innerWidth < 640 && document.cookie.indexOf('compact=1') < 0) { document.documentElement.className = 'compact'; }",
    "</script>",
    "</head>",
    "<body>",
    `<nav><a href="/">${zh ? "首页" : "Home"}</a> &rsaquo; <a href="/docs">${zh ? "文档" : "Docs"}</a></nav>`,
    "<main>",
    "<article>",
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>${escapeHtml(paragraph(ctx, topics[0], 2, 4))}</p>`,
  ].join("\n");
  const tail = [
    "</article>",
    "</main>",
    `<footer><p>&copy; 2024 Larkspur Labs &middot; ${zh ? "条款 &amp; 隐私" : "Terms &amp; Privacy"}</p></footer>`,
    '<script src="/assets/app.js" defer></script>',
    "<script>",
    "  document.querySelectorAll('pre code').forEach(function (el) { el.dataset.marker = 'SCRIPT_SHOULD_NOT_APPEAR'; });",
    "</script>",
    "</body>",
    "</html>",
  ].join("\n");
  const body = grow(target - bytes(tail), head, (i) => htmlSection(ctx, topics[i % topics.length], i), "\n");
  return `${body}\n${tail}\n`;
}

// ---------------------------------------------------------------------------------------------------
// Document specs

/**
 * A spec describes one document: its entry fields, how to build its text and, for path documents,
 * the file to write. `gen` is one of text | faq | markdown | release | html.
 */
function makeContent(spec) {
  const ctx = {
    rng: new Rng(spec.id),
    memo: new Map(),
    lang: spec.lang,
    title: spec.title,
    topics: spec.topics,
    target: spec.size,
    kind: spec.gen === "faq" || spec.gen === "faq-md" ? "faq" : "doc",
  };
  switch (spec.gen) {
    case "text":
    case "faq":
      return buildText(ctx);
    case "markdown":
    case "faq-md":
      return buildMarkdown(ctx);
    case "release":
      return buildReleaseNotes(ctx);
    case "html":
      return buildHtml(ctx);
    default:
      throw new Error(`unknown generator ${spec.gen}`);
  }
}

function sizeFor(id) {
  return logUniform(new Rng(`size:${id}`), 1000, 20000);
}

function metaFor(spec, extra = {}) {
  const topic = spec.topics[0];
  return {
    lang: spec.lang,
    topic,
    author_team: spec.team ?? TEAM_BY_TOPIC[topic],
    doc_type: spec.docType,
    ...extra,
  };
}

const pad = (n, width = 3) => String(n).padStart(width, "0");

function inlineSpecs() {
  const specs = [];

  // English knowledge base articles (wiki).
  const kbGens = ["markdown", "text", "html", "markdown", "text", "markdown", "html"];
  for (let i = 1; i <= 32; i++) {
    const topic = TOPICS[(i - 1) % TOPICS.length];
    const spec = {
      id: `kb-${pad(i)}`,
      source: "wiki",
      lang: "en",
      topics: [topic, TOPICS[(i + 2) % TOPICS.length]],
      title: EN_TITLES[topic][Math.floor((i - 1) / TOPICS.length) % EN_TITLES[topic].length],
      gen: kbGens[i % kbGens.length],
      size: sizeFor(`kb-${pad(i)}`),
      docType: "product_doc",
    };
    if (i === 12) {
      Object.assign(spec, { gen: "markdown", title: "Administrator guide", topics: TOPICS, size: 196_000 });
    }
    if (i === 27) {
      Object.assign(spec, {
        gen: "html",
        title: "Platform reference",
        topics: TOPICS.slice(2),
        size: 150_000,
      });
    }
    const extra = {};
    if (i % 5 === 0) extra.product_version = `4.${i % 9}`;
    if (i % 4 === 1) extra.tags = [topic, spec.gen];
    if (i % 6 === 0) extra.reviewed = true;
    spec.metadata = i % 11 === 10 ? undefined : metaFor(spec, extra);
    specs.push(spec);
  }

  // English FAQ (helpdesk).
  for (let i = 1; i <= 13; i++) {
    const topic = TOPICS[(i + 3) % TOPICS.length];
    specs.push({
      id: `faq-en-${pad(i)}`,
      source: "helpdesk",
      lang: "en",
      topics: [topic],
      title: `FAQ: ${EN_TITLES[topic][i % EN_TITLES[topic].length]}`,
      gen: i % 3 === 0 ? "faq-md" : "faq",
      size: sizeFor(`faq-en-${pad(i)}`),
      docType: "faq",
      withMeta: true,
    });
  }

  // Chinese FAQ (helpdesk); a few mix English sentences into the Chinese text.
  for (let i = 1; i <= 20; i++) {
    const topic = TOPICS[i % TOPICS.length];
    const mixed = i % 6 === 5;
    specs.push({
      id: `faq-zh-${pad(i)}`,
      source: "helpdesk",
      lang: mixed ? "mixed" : "zh",
      topics: [topic],
      title: `常见问题：${ZH_TITLES[topic][i % ZH_TITLES[topic].length]}`,
      gen: i % 7 === 3 ? "html" : i % 4 === 0 ? "faq-md" : "faq",
      size: sizeFor(`faq-zh-${pad(i)}`),
      docType: "faq",
      withMeta: true,
    });
  }
  // faq-zh-020 is a stub answer of a few bytes.
  Object.assign(specs[specs.length - 1], { gen: "fixed", fixed: "请参阅上一条。" });

  // Chinese knowledge base articles (wiki).
  const zhGens = ["markdown", "text", "html", "markdown", "text"];
  for (let i = 1; i <= 10; i++) {
    const topic = TOPICS[(i + 5) % TOPICS.length];
    const spec = {
      id: `zh-kb-${pad(i)}`,
      source: "wiki",
      lang: i % 4 === 2 ? "mixed" : "zh",
      topics: [topic, TOPICS[(i + 1) % TOPICS.length]],
      title: ZH_TITLES[topic][i % ZH_TITLES[topic].length],
      gen: zhGens[i % zhGens.length],
      size: sizeFor(`zh-kb-${pad(i)}`),
      docType: "product_doc",
      withMeta: true,
    };
    if (i === 3) Object.assign(spec, { gen: "markdown", title: "管理员手册", topics: TOPICS, size: 80_000 });
    specs.push(spec);
  }

  // Release notes (web).
  const releases = [
    ["rn-2024-01", "en", "Release 4.1.0"],
    ["rn-2024-02", "en", "Release 4.2.0"],
    ["rn-2024-03", "en", "Release 4.3.0"],
    ["rn-2024-04", "en", "Release 4.4.0"],
    ["rn-zh-2024-05", "zh", "4.5.0 版本发布说明"],
    ["rn-2024-05", "en", "Release 4.5.0"],
    ["rn-zh-2024-06", "zh", "4.6.0 版本发布说明"],
    ["rn-2024-06", "en", "Release 4.6.0"],
  ];
  for (const [id, lang, title] of releases) {
    specs.push({
      id,
      source: "web",
      lang,
      topics: ["api"],
      title,
      gen: "release",
      docType: "release_notes",
      metadata: {
        lang,
        topic: "release",
        author_team: "product",
        doc_type: "release_notes",
        version: title.match(/4\.\d\.0/)[0],
      },
    });
  }

  // Policies (web).
  const policies = [
    ["policy-acceptable-use", "en", "Acceptable use policy", "security", "html"],
    ["policy-data-retention", "en", "Data retention policy", "storage", "text"],
    ["policy-refunds", "en", "Refund policy", "billing", "html"],
    ["policy-sla-credits", "en", "Service level credits", "billing", "text"],
    ["policy-privacy-summary", "en", "Privacy policy summary", "security", "markdown"],
    ["policy-zh-data-protection", "zh", "数据保护政策", "security", "html"],
  ];
  for (const [id, lang, title, topic, gen] of policies) {
    specs.push({
      id,
      source: "web",
      lang,
      topics: [topic, "security"],
      title,
      gen,
      size: sizeFor(id),
      docType: "policy",
      team: "legal",
      withMeta: true,
    });
  }

  // Engineering notes (no source: the default "inline"); half of them carry no metadata.
  const notes = [
    ["Worker autoscaling", "ops", "markdown"],
    ["Embedding service circuit breaker", "ops", "markdown"],
    ["Checkpoint format", "ops", "text"],
    ["Search index rebuild", "search", "markdown"],
    ["Webhook delivery pipeline", "api", "text"],
    ["Billing job retries", "billing", "markdown"],
    ["Replica failover drill", "ops", "text"],
    ["SSO certificate rotation", "accounts", "markdown"],
  ];
  notes.forEach(([title, topic, gen], k) => {
    const id = `eng-note-${pad(k + 1)}`;
    const spec = {
      id,
      lang: "en",
      topics: [topic, "ops"],
      title,
      gen,
      size: sizeFor(id),
      docType: "engineering_note",
    };
    spec.metadata = k % 2 === 0 ? metaFor(spec, { team_channel: "#eng-platform" }) : undefined;
    specs.push(spec);
  });

  // Tiny documents.
  specs.push(
    {
      id: "kb-stub-001",
      source: "wiki",
      lang: "en",
      gen: "fixed",
      fixed: "TBD.",
      metadata: { lang: "en", topic: "billing", author_team: "docs", status: "stub" },
    },
    {
      id: "note-restart-queue",
      lang: "en",
      gen: "fixed",
      fixed: "Restart the worker after changing the queue URL.",
    },
    {
      id: "web-moved-notice",
      source: "web",
      format: "html",
      lang: "en",
      gen: "fixed",
      fixed: "<p>This page has moved to the new help center.</p>",
      metadata: { lang: "en", topic: "general", author_team: "web" },
    },
    {
      id: "kb-deprecated-v3",
      source: "wiki",
      format: "markdown",
      lang: "en",
      gen: "fixed",
      fixed:
        "# Deprecated\n\nThis article applies to version 3, which is no longer supported. See the 4.x administrator guide.\n",
      metadata: { lang: "en", topic: "general", author_team: "docs", status: "deprecated" },
    },
  );

  // An id with surrounding whitespace (normalizes to "kb-033").
  specs.push({
    id: "  kb-033 ",
    source: "wiki",
    lang: "en",
    topics: ["integrations"],
    title: "Notification preferences",
    gen: "text",
    size: 2400,
    docType: "product_doc",
    withMeta: true,
  });

  // An id with a combining character sequence (normalizes to "café-menu" under NFC).
  specs.push({
    id: "cafe\u0301-menu",
    source: "wiki",
    lang: "en",
    gen: "fixed",
    fixed: cafeMenu(),
    metadata: { lang: "en", topic: "office", author_team: "workplace", doc_type: "notice" },
  });

  return specs;
}

function cafeMenu() {
  const rng = new Rng("cafe-menu");
  const days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
  const mains = [
    "lentil soup with flatbread",
    "grilled chicken with rice",
    "vegetable curry",
    "beef noodles",
    "mushroom risotto",
    "fish tacos",
    "tofu stir-fry",
  ];
  const lines = [
    "Café menu — Building B, level 2",
    "",
    "Open 8:00–15:00 on weekdays. Card payments only.",
    "",
  ];
  for (const day of days)
    lines.push(`${day}: ${rng.pick(mains)}; dessert: ${rng.pick(["fruit", "yogurt", "brownie"])}.`);
  lines.push(
    "",
    "Allergen information is posted at the counter. Ask the staff about gluten-free options.",
    "",
  );
  return lines.join("\n");
}

function pathSpecs() {
  const list = [
    ["docs/guide.md", "wiki", "en", "User guide", TOPICS, "markdown", 12_000],
    ["docs/getting-started.md", "wiki", "en", "Getting started", ["accounts", "search"], "markdown", 6_000],
    ["docs/billing/invoices.md", "wiki", "en", "Invoices", ["billing"], "markdown", 8_000],
    ["docs/billing/refunds.html", "web", "en", "Refunds", ["billing"], "html", 10_000],
    ["docs/security/sso.md", "wiki", "en", "Single sign-on", ["accounts", "security"], "markdown", 9_000],
    [
      "docs/security/password-policy.txt",
      "wiki",
      "en",
      "Password policy",
      ["security", "accounts"],
      "text",
      3_000,
    ],
    ["docs/api/rate-limits.md", "wiki", "en", "Rate limits", ["api"], "markdown", 5_000],
    ["docs/api/webhooks.html", "web", "en", "Webhooks", ["api", "integrations"], "html", 14_000],
    [
      "docs/ops/runbook-db-failover.md",
      "wiki",
      "en",
      "Runbook: database failover",
      ["ops"],
      "markdown",
      18_000,
    ],
    [
      "docs/ops/incident-2024-04-12.txt",
      "wiki",
      "en",
      "Incident report 2024-04-12",
      ["ops", "api"],
      "text",
      4_000,
    ],
    ["docs/legal/privacy-policy.htm", "web", "en", "Privacy policy", ["security", "storage"], "html", 55_000],
    ["docs/legal/terms.html", "web", "en", "Terms of service", ["security", "billing"], "html", 16_000],
    [
      "docs/support/sla.md",
      "helpdesk",
      "en",
      "Support service levels",
      ["ops", "billing"],
      "markdown",
      7_000,
    ],
    [
      "docs/handbook/onboarding.md",
      "wiki",
      "en",
      "Engineering onboarding handbook",
      TOPICS,
      "markdown",
      120_000,
    ],
    ["docs/integrations/slack.md", "wiki", "en", "Slack integration", ["integrations"], "markdown", 4_000],
    ["docs/integrations/zapier.html", "web", "en", "Zapier", ["integrations", "api"], "html", 6_000],
    ["docs/zh/quickstart.md", "wiki", "zh", "快速入门", ["accounts", "search"], "markdown", 8_000],
    ["docs/zh/billing-faq.md", "helpdesk", "zh", "账单常见问题", ["billing"], "faq-md", 11_000],
    ["docs/zh/security-notice.txt", "wiki", "mixed", "安全公告 Security notice", ["security"], "text", 3_000],
    ["docs/zh/faq.html", "helpdesk", "zh", "常见问题", ["search", "storage"], "html", 9_000],
  ];
  const specs = list.map(([path, source, lang, title, topics, gen, size], k) => {
    const spec = { id: path, source, path, lang, title, topics, gen, size, docType: "guide" };
    spec.metadata = metaFor(spec, { file: path.split("/").pop() });
    // Formats are inferred from the extension; two entries state them explicitly.
    if (k === 0) spec.format = "markdown";
    if (k === 7) spec.format = "html";
    if (path.endsWith("incident-2024-04-12.txt")) spec.crlf = true;
    return spec;
  });
  // The one document that can only fail: its file does not exist.
  specs.push({
    id: "docs/missing/retired-policy.md",
    source: "wiki",
    path: "docs/missing/retired-policy.md",
    missing: true,
    metadata: { lang: "en", topic: "security", author_team: "legal", doc_type: "policy", status: "retired" },
  });
  return specs;
}

function jsonSpecs() {
  const catalog = {
    sku: "A-100",
    name: "Larkspur Team plan",
    category: "subscription",
    description:
      "Shared workspaces for small teams, with search across documents, comments and attachments. Billed per active seat.",
    features: [
      "Unlimited documents",
      "Full-text and semantic search",
      "Slack and Google Drive integrations",
      "30-day trash",
    ],
    pricing: { currency: "USD", monthly_per_seat: 12, annual_per_seat: 10 },
    limits: { storage_gb_per_seat: 20, api_requests_per_minute: 600 },
    regions: ["us-east-1", "eu-west-1"],
    updated: "2024-05-02",
  };
  const incident = {
    id: "INC-2024-0412",
    title: "Delayed indexing of new documents",
    severity: "minor",
    started_at: "2024-04-12T07:42:00Z",
    resolved_at: "2024-04-12T09:15:00Z",
    affected_services: ["search", "import"],
    summary:
      "A configuration change reduced the number of import workers. New documents took up to 40 minutes to become searchable. No data was lost.",
    timeline: [
      { time: "07:42", note: "Queue depth alert fired." },
      { time: "08:05", note: "Configuration change identified as the cause." },
      { time: "08:20", note: "Change rolled back; workers scaled out." },
      { time: "09:15", note: "Backlog cleared and incident resolved." },
    ],
    follow_ups: [
      "Add a minimum worker count to the deployment check.",
      "Alert on indexing latency, not only queue depth.",
    ],
  };
  const faqExport = {
    locale: "zh-CN",
    exported_at: "2024-06-30",
    items: [
      { q: "如何下载发票？", a: "进入“设置 > 账单 > 发票”，点击对应月份即可下载 PDF。" },
      { q: "账号为什么被锁定？", a: "连续多次登录失败后账号会被锁定十五分钟，请稍后重试。" },
      { q: "数据存放在哪里？", a: "创建工作区时可以选择数据存放地域，创建后不可更改。" },
      { q: "Webhook 会重试多久？", a: "投递失败后按指数退避重试，最长持续 24 小时！" },
    ],
  };
  const malformed = [
    "{",
    '  "sku": "B-220",',
    '  "name": "Larkspur Business plan",',
    '  "category": "subscription",',
    '  "description": "Everything in Team, plus single sign-on, audit logs and data residency.",',
    '  "features": ["SAML and OpenID Connect", "SCIM provisioning", "One-year audit log",',
    '  "pricing": { "currency": "USD", "monthly_per_seat": 24, "annual_per_seat": 20,, },',
    '  "updated": "2024-05-',
  ].join("\n");
  const meta = (lang, topic, docType) => ({
    lang,
    topic,
    author_team: TEAM_BY_TOPIC[topic] ?? "product",
    doc_type: docType,
  });
  return [
    {
      id: "catalog-a100",
      source: "web",
      format: "json",
      fixed: JSON.stringify(catalog, null, 2),
      metadata: meta("en", "billing", "catalog"),
    },
    {
      id: "status-incident-2024-04-12",
      source: "web",
      format: "json",
      fixed: JSON.stringify(incident),
      metadata: meta("en", "ops", "incident"),
    },
    {
      id: "faq-zh-export-2024q2",
      source: "helpdesk",
      format: "json",
      fixed: JSON.stringify(faqExport, null, 2),
      metadata: meta("zh", "billing", "faq"),
    },
    // Malformed on purpose: completed by the fallback path (degraded), not failed.
    {
      id: "catalog-b220",
      source: "web",
      format: "json",
      fixed: malformed,
      metadata: meta("en", "billing", "catalog"),
    },
  ].map((spec) => ({ ...spec, gen: "fixed" }));
}

const FORMAT_OF_GEN = {
  text: "text",
  faq: "text",
  markdown: "markdown",
  "faq-md": "markdown",
  release: "markdown",
  html: "html",
};

/** The input entry of a spec. Key order is fixed: id, source, format, content | path, metadata. */
function toEntry(spec, text) {
  const entry = { id: spec.id };
  if (spec.source !== undefined) entry.source = spec.source;
  if (spec.path !== undefined) {
    if (spec.format !== undefined) entry.format = spec.format;
    entry.path = spec.path;
  } else {
    const format = spec.format ?? FORMAT_OF_GEN[spec.gen];
    // Plain text is the default; state it on every other text document only.
    if (format !== undefined && (format !== "text" || fnv1a(spec.id) % 2 === 0)) entry.format = format;
    entry.content = text;
  }
  const metadata = spec.metadata !== undefined || !spec.withMeta ? spec.metadata : metaFor(spec);
  if (metadata !== undefined) entry.metadata = metadata;
  return entry;
}

// ---------------------------------------------------------------------------------------------------
// Assembly

function main() {
  const inline = [...inlineSpecs(), ...jsonSpecs()];
  const paths = pathSpecs();

  // Interleave: one path document after every five inline documents.
  const ordered = [];
  let p = 0;
  inline.forEach((spec, k) => {
    ordered.push(spec);
    if (k % 5 === 4 && p < paths.length) ordered.push(paths[p++]);
  });
  while (p < paths.length) ordered.push(paths[p++]);

  rmSync(DOCS_DIR, { recursive: true, force: true });
  const documents = [];
  for (const spec of ordered) {
    if (spec.path !== undefined) {
      if (!spec.missing) {
        let text = makeContent(spec);
        if (spec.crlf) text = text.replace(/\n/g, "\r\n");
        const file = join(EXAMPLES_DIR, spec.path);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
      documents.push(toEntry(spec, null));
    } else {
      documents.push(toEntry(spec, spec.gen === "fixed" ? spec.fixed : makeContent(spec)));
    }
  }

  // Exactly three exact duplicates: deep copies of earlier entries, inserted later in the array.
  const duplicates = [
    ["kb-004", 70],
    ["faq-zh-007", 100],
    ["docs/api/rate-limits.md", 126],
  ];
  for (const [id, at] of duplicates) {
    const original = documents.findIndex((d) => d.id === id);
    if (original < 0 || original >= at) throw new Error(`duplicate ${id} must come after its original`);
    documents.splice(at, 0, structuredClone(documents[original]));
  }

  const input = { batch_id: "example", documents };
  mkdirSync(EXAMPLES_DIR, { recursive: true });
  writeFileSync(INPUT_FILE, `${JSON.stringify(input, null, 2)}\n`);

  const files = paths.filter((s) => !s.missing).length;
  console.log(
    `wrote ${INPUT_FILE} (${documents.length} entries, ${duplicates.length} exact duplicates) and ${files} files under ${DOCS_DIR}`,
  );
}

main();
