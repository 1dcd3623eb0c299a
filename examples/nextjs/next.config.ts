import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // This app sits inside the library's repository, whose own lockfile would otherwise be
  // taken for the workspace root.
  turbopack: { root: import.meta.dirname },
};

// Next.js reads its configuration from the module's default export.
export default nextConfig;
