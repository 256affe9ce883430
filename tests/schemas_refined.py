"""Schemas the refinement, generated and computed column tests share (issue 15)."""

REFINED_SDL = """
type Org @wes_table { id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()") name: String! }

type Contact @wes_table @wes_tenant(by: "orgId") {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id")
  email: String @wes_email
  site: String @url
  ip: String @wesley_ip
  name: String @wes_length(min: 2, max: 4)
  code: String @wes_regex(pattern: "^[A-Z]{2}[0-9]*$")
  n: Int @wes_min(value: -5) @wes_max(value: 10)
  price: Decimal @wes_min(value: "0.01") @wes_max(value: "99.99")
  big: BigInt @wes_max(value: 9007199254740993)
  ratio: Float @wes_min(value: -0.5)
  shout: String @min(value: 3, check: false)
  total: Int @wes_generated(expr: "n * 2")
  label: String! @wes_generated(expr: "upper(coalesce(name, 'none'))")
}
"""

COMPUTED_SDL = """
type Org @wes_table { id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()") name: String! }
type Post @wes_table @wes_tenant(by: "orgId") {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id")
  title: String!
  slug: String! @wes_computed(expr: "lower(replace(title, ' ', '-'))")
  touched: DateTime @computed(expr: "now()")
  commentCount: Int! @wes_computed(count: "Comment.postId")
  EXTRA
}
type Comment @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  postId: ID! @wes_fk(ref: "Post.id", onDelete: CASCADE)
  body: String
}
"""
