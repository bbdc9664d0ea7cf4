/**
 * The UI's icons: SVG (lucide), never colour emoji, so they render the same on a machine
 * without an emoji font. Each is decorative (aria-hidden); the button around it has the
 * accessible name.
 */
export {
  ArrowDown,
  ArrowLeft,
  Ban,
  Bell,
  Car,
  Flag,
  Hand,
  Hash,
  Lightbulb,
  PawPrint,
  Pizza,
  Smile,
  Trophy,
  BellOff,
  Check,
  Command,
  Copy,
  Download,
  Ellipsis,
  File as FileIcon,
  LogOut,
  MessageSquare,
  Monitor,
  Moon,
  Paperclip,
  Pencil,
  Phone,
  Pin,
  Plus,
  Reply,
  Search,
  Settings,
  SmilePlus,
  Sun,
  Trash2,
  Users,
  Video,
  X,
} from 'lucide-react';

/** The size used for icons in buttons (px). */
export const ICON = 18;
