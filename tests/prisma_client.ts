// Run by tests/test_target_orm.py with the client `prisma generate` wrote next to it.
import { PrismaClient } from "./generated/prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";

const prisma = new PrismaClient({ adapter: new PrismaPg({}) });

async function main() {
  const org = await prisma.org.create({
    data: { name: "acme", members: { create: [{ email: "a@acme.io", role: "OWNER" }, { email: "b@acme.io" }] } },
  });
  const back = await prisma.org.findUniqueOrThrow({ where: { id: org.id }, include: { members: { orderBy: { email: "asc" } } } });
  const member = await prisma.member.findFirstOrThrow({ where: { email: "b@acme.io" }, include: { org: true } });
  const root = await prisma.node.create({ data: { id: 1, name: "root", kind: "dir" } });
  await prisma.node.create({ data: { id: 2, name: "leaf", kind: "file", parentId: root.id, rootId: root.id } });
  await prisma.edge.create({ data: { fromId: 1, toId: 2, weight: 3 } });
  await prisma.profile.create({ data: { id: 1, nodeId: 2, bio: "hi" } });
  const leaf = await prisma.node.findUniqueOrThrow({ where: { id: 2 }, include: { parent: true, profile: true } });
  const kitchen = await prisma.kitchen.create({ data: { label: "x", statuses: ["done"], big: 5n, price: "1.25" } });
  console.log(JSON.stringify({
    members: back.members.map((m) => [m.email, m.role]),
    memberOrg: member.org.name,
    leafParent: leaf.parent?.name,
    leafProfile: leaf.profile?.bio,
    children: (await prisma.node.findUniqueOrThrow({ where: { id: 1 }, include: { nodeByParent: true } })).nodeByParent.map((n) => n.name),
    edges: await prisma.edge.count(),
    kitchen: [kitchen.name, kitchen.count, kitchen.status, kitchen.tags, String(kitchen.big), String(kitchen.price)],
  }));
  await prisma.$disconnect();
}
main().catch(async (e) => { console.error(e); process.exit(1); });
